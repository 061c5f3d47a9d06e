#include "reconcilers/issuer.hpp"

namespace certherd::reconcilers {

boost::asio::awaitable<renewal_info_answer> issuer::async_renewal_info(std::string, std::string) {
  co_return renewal_info_answer{};
}

bool issuer::renewal_info_unreachable(const std::string&) const {
  return false;
}

}  // namespace certherd::reconcilers
