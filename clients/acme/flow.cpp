#include "clients/acme/flow.hpp"

#include <ostream>

namespace certherd::acme {

std::ostream& operator<<(std::ostream& os, const action& a) {
  struct printer {
    std::ostream& os;
    void operator()(const send_request& s) const {
      os << "send_request{" << http::to_string(s.request.verb) << ' ' << s.request.url << '}';
    }
    void operator()(const sleep_for& s) const { os << "sleep_for{" << s.duration.count() << "ms}"; }
    void operator()(const present_challenge& p) const {
      os << "present_challenge{" << p.identifier << ' ' << p.token << '}';
    }
    void operator()(const remove_challenge& r) const {
      os << "remove_challenge{" << r.identifier << ' ' << r.token << '}';
    }
    void operator()(const check_challenge& c) const {
      os << "check_challenge{" << c.identifier << ' ' << c.token << '}';
    }
  };
  std::visit(printer{os}, a);
  return os;
}

}  // namespace certherd::acme
