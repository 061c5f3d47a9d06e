# Installation and the Debian package (`cmake --build build --target package`, or `cpack -G DEB`
# in build/): certherd_<version>_amd64.deb with the binary in /usr/bin, the systemd unit,
# /etc/default/certherd (a conffile listing every setting, written by the binary from its table
# of settings), the manual page, the alert rules and the README; the maintainer scripts in
# deploy/debian make the certherd user and /var/lib/certherd (0700), which a purge keeps.
# Dependencies on shared libraries come from dpkg-shlibdeps (dpkg-dev).
include(GNUInstallDirs)

set(certherd_pkg ${PROJECT_BINARY_DIR}/package)
file(MAKE_DIRECTORY ${certherd_pkg})

# The Debian changelog is written by hand; its latest entry must be this version.
file(STRINGS ${PROJECT_SOURCE_DIR}/deploy/debian/changelog certherd_changelog_top LIMIT_COUNT 1)
if(NOT certherd_changelog_top MATCHES "^certherd \\(${PROJECT_VERSION}\\) ")
  message(FATAL_ERROR "deploy/debian/changelog: the latest entry is '${certherd_changelog_top}', "
    "not version ${PROJECT_VERSION} (add an entry for it)")
endif()

# gzip -n: no name or time stamp, so the same sources give the same package.
add_custom_command(OUTPUT ${certherd_pkg}/certherd.1.gz
  COMMAND gzip -9n -c ${PROJECT_BINARY_DIR}/controller/certherd.1 > ${certherd_pkg}/certherd.1.gz
  DEPENDS manual_page ${PROJECT_BINARY_DIR}/controller/certherd.1 VERBATIM)
add_custom_command(OUTPUT ${certherd_pkg}/changelog.gz
  COMMAND gzip -9n -c ${PROJECT_SOURCE_DIR}/deploy/debian/changelog > ${certherd_pkg}/changelog.gz
  DEPENDS ${PROJECT_SOURCE_DIR}/deploy/debian/changelog VERBATIM)
add_custom_command(OUTPUT ${certherd_pkg}/default
  COMMAND certherd manual --environment-file > ${certherd_pkg}/default
  DEPENDS certherd VERBATIM)
add_custom_target(package_files ALL DEPENDS ${certherd_pkg}/certherd.1.gz
  ${certherd_pkg}/changelog.gz ${certherd_pkg}/default)

install(TARGETS certherd RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${certherd_pkg}/certherd.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
# Debian 12 keeps units in /lib/systemd/system and defaults in /etc/default, whatever the prefix.
install(FILES ${PROJECT_SOURCE_DIR}/deploy/certherd.service DESTINATION /lib/systemd/system)
# Root's alone: it may hold secrets (CATTLE_SECRET_KEY, STATUS_TOKEN).
install(FILES ${certherd_pkg}/default DESTINATION /etc/default RENAME certherd
  PERMISSIONS OWNER_READ OWNER_WRITE)
# /etc/default/certherd is 0600 on purpose; lintian is told so.
install(FILES ${PROJECT_SOURCE_DIR}/deploy/debian/lintian-overrides
  DESTINATION ${CMAKE_INSTALL_DATADIR}/lintian/overrides RENAME certherd)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/deploy/debian/copyright
  ${certherd_pkg}/changelog.gz ${PROJECT_SOURCE_DIR}/deploy/prometheus/certherd-alerts.yml
  ${PROJECT_SOURCE_DIR}/deploy/haproxy.cfg
  DESTINATION ${CMAKE_INSTALL_DOCDIR})

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME certherd)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "The certherd authors <certherd@example.invalid>")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
# publicsuffix: the newest list of public suffixes (libpsl has one built in, older).
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "ca-certificates, publicsuffix")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "nginx | haproxy, etcd-server, prometheus")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "keeps the TLS certificates of a Rancher environment valid
certherd obtains and renews certificates from an ACME CA (Let's Encrypt by
default) by HTTP-01, through a shared webroot or its own challenge responder,
for the hosts named in its settings and in a label on Rancher's services. It
delivers them to files, to HAProxy through its runtime API and to Rancher's
certificate store, in place, without downtime; several replicas can share one
store in etcd.")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${PROJECT_SOURCE_DIR}/deploy/debian/conffiles ${PROJECT_SOURCE_DIR}/deploy/debian/postinst
  ${PROJECT_SOURCE_DIR}/deploy/debian/prerm ${PROJECT_SOURCE_DIR}/deploy/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CMAKE_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ
  GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
include(CPack)
