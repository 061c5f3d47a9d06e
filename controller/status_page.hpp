// The status page's pieces (controller/status_page.cpp): a certificate's card, rendered when its
// row changes (status_board), and HTML escaping.
#pragma once

#include "controller/fleet_view.hpp"

#include <string>
#include <string_view>

namespace certherd::controller {

/// \brief `s` with &, <, >, " and ' as entities.
std::string html_escape(std::string_view s);

/// \brief A certificate's card: its state, hosts, sources, targets, expiry and renewal, and for
/// a certificate that needs attention, why (the error and its kind, the failure count, the next
/// try; what it waits for; the conflict).
std::string status_card(const fleet_row& row, sys_seconds now);

}  // namespace certherd::controller
