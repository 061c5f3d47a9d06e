// The protocol clients' errors as the one error model (clients/outcome, design/0004-errors.md):
// translated here once, at the boundary, by tables tested row by row.
#pragma once

#include "clients/acme/error.hpp"
#include "clients/outcome/outcome.hpp"
#include "clients/rancher/resources.hpp"

#include <string_view>

namespace certherd::reconcilers {

/// \brief The kind an ACME problem type stands for ("rateLimited" or the full URN).
failure_kind kind_of_problem(std::string_view type) noexcept;
/// \brief An ACME flow's error as a failure.
failure failure_from(const acme::error& e);
/// \brief A Rancher call's error as a failure: no answer is transport, a key Rancher refuses
/// (401, 403) is configuration, any other answer a refusal.
failure failure_from(const rancher::error& e);

}  // namespace certherd::reconcilers
