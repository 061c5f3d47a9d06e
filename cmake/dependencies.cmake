# Every dependency comes from Debian 12's packages (scripts/bootstrap installs them).
find_package(Boost 1.81 CONFIG REQUIRED COMPONENTS url)
find_package(OpenSSL 3 REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(CLI11 REQUIRED)
find_package(prometheus-cpp CONFIG REQUIRED COMPONENTS core)
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(PSL REQUIRED IMPORTED_TARGET libpsl)
find_path(RAPIDJSON_INCLUDE_DIR rapidjson/document.h REQUIRED)

# RapidJSON: header only; std::string support on, asserts become exceptions we never expect.
add_library(certherd_rapidjson INTERFACE)
target_include_directories(certherd_rapidjson SYSTEM INTERFACE ${RAPIDJSON_INCLUDE_DIR})
target_compile_definitions(certherd_rapidjson INTERFACE RAPIDJSON_HAS_STDSTRING=1)

# Asio and Beast are compiled once (clients/http/asio_impl.cpp), not in every translation unit.
add_library(certherd_asio_config INTERFACE)
target_compile_definitions(certherd_asio_config INTERFACE
  BOOST_ASIO_SEPARATE_COMPILATION BOOST_BEAST_SEPARATE_COMPILATION
  BOOST_ASIO_NO_DEPRECATED)
target_link_libraries(certherd_asio_config INTERFACE Boost::headers OpenSSL::SSL OpenSSL::Crypto
  Threads::Threads)
