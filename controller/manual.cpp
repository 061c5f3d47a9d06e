#include "controller/manual.hpp"

#include "controller/settings.hpp"

#include <fmt/format.h>

#include <set>
#include <string>

namespace certherd::controller {
namespace {

// Text for roff: backslashes escaped, hyphens as minus signs where they are typed (options,
// variables' values), and no line that starts with a control character.
std::string roff(std::string_view text, bool minus = false) {
  std::string out;
  for (char c : text) {
    if (c == '\\') {
      out += "\\e";
    } else if (c == '-' && minus) {
      out += "\\-";
    } else {
      out += c;
    }
  }
  if (!out.empty() && (out.front() == '.' || out.front() == '\'')) out.insert(0, "\\&");
  return out;
}

std::string option_line(const CLI::Option& o) {
  std::string names;
  for (const auto& l : o.get_lnames())
    names += (names.empty() ? "" : ", ") + fmt::format("\\fB{}\\fR", roff("--" + l, true));
  for (const auto& s : o.get_snames())
    names = fmt::format("\\fB{}\\fR", roff("-" + s, true)) + (names.empty() ? "" : ", ") + names;
  if (names.empty()) names = fmt::format("\\fI{}\\fR", roff(o.get_name()));
  if (o.get_items_expected_min() > 0 && !o.get_lnames().empty()) names += " \\fIVALUE\\fR";
  return names;
}

// Words of `text` in lines of at most `width` characters, each line starting with `prefix`.
std::string wrapped(std::string_view text, std::string_view prefix, std::size_t width = 78) {
  std::string out, line;
  while (!text.empty()) {
    auto space = text.find(' ');
    std::string_view word = text.substr(0, space);
    text = space == std::string_view::npos ? std::string_view{} : text.substr(space + 1);
    if (word.empty()) continue;
    if (!line.empty() && prefix.size() + line.size() + 1 + word.size() > width) {
      out += fmt::format("{}{}\n", prefix, line);
      line.clear();
    }
    line += (line.empty() ? "" : " ") + std::string(word);
  }
  if (!line.empty()) out += fmt::format("{}{}\n", prefix, line);
  return out;
}

}  // namespace

std::string manual_page(const CLI::App& app, std::string_view version) {
  // A command that takes the settings has each as an option described "VARIABLE: meaning"
  // (main.cpp); its own options (issue's --directory) are described otherwise.
  std::set<std::string> setting_options;
  for (const auto& s : settings()) {
    if (!s.flag.empty()) setting_options.insert(fmt::format("{} {}:", s.flag, s.variable));
  }
  std::string out;
  out += fmt::format(".TH CERTHERD 1 \"\" \"certherd {}\" \"User Commands\"\n", roff(version));
  out += ".SH NAME\ncertherd \\- keeps every TLS certificate of a Rancher environment valid\n";
  out +=
      ".SH SYNOPSIS\n.B certherd\n[\\fB\\-\\-log\\-level\\fR \\fILEVEL\\fR] "
      "[\\fB\\-\\-log\\-format\\fR \\fIFORMAT\\fR] \\fICOMMAND\\fR [\\fIOPTIONS\\fR]\n";
  out +=
      ".SH DESCRIPTION\n"
      "certherd obtains and renews certificates from an ACME CA (Let's Encrypt by default) by "
      "HTTP\\-01, through a shared webroot or its own challenge responder, for the hosts named "
      "in DOMAINS and in a label on the services of a Rancher environment. It delivers each "
      "certificate to files, to HAProxy through its runtime API, and to Rancher's certificate "
      "store, in place, without downtime. Several replicas can share one store in etcd; one "
      "of them orders, all of them serve.\n"
      ".PP\n"
      "Settings come from the environment (below); every command that takes them also takes "
      "each as the flag named with it. A flag wins over the variable. Secrets are taken from "
      "the environment or a file only: a flag shows in every process listing.\n";
  out += ".SH COMMANDS\n";
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    if (sub->get_group().empty()) continue;  // hidden
    out += fmt::format(".TP\n.B {}\n{}\n", roff(sub->get_name()), roff(sub->get_description()));
    bool takes_settings = false;
    std::string options;
    auto list = [&](const CLI::App* where) {
      for (const CLI::Option* o : where->get_options([](const CLI::Option*) { return true; })) {
        if (o->get_group().empty() || o->get_name() == "--help" || o->get_name() == "-h,--help")
          continue;
        const std::string& d = o->get_description();
        if (!o->get_lnames().empty() &&
            setting_options.count(
                fmt::format("--{} {}", o->get_lnames().front(), d.substr(0, d.find(':') + 1)))) {
          takes_settings = true;
          continue;
        }
        if (o->get_lnames().size() == 1 && o->get_lnames().front() == "help") continue;
        options += fmt::format(".TP\n{}\n{}\n", option_line(*o), roff(o->get_description()));
      }
    };
    list(sub);
    for (const CLI::App* nested : sub->get_subcommands([](const CLI::App*) { return true; })) {
      options += fmt::format(".TP\n.B {} {}\n{}\n", roff(sub->get_name()), roff(nested->get_name()),
                             roff(nested->get_description()));
      list(nested);
    }
    if (!options.empty() || takes_settings) {
      out += ".RS\n" + options;
      if (takes_settings)
        out += ".PP\nTakes every setting of ENVIRONMENT, as a variable or a flag.\n";
      out += ".RE\n";
    }
  }
  out += ".SH ENVIRONMENT\n";
  std::string_view section;
  for (const auto& s : settings()) {
    if (s.section != section) {
      section = s.section;
      out += fmt::format(".SS {}\n", roff(section));
    }
    out += fmt::format(".TP\n.B {}\n{}\n", roff(s.variable), roff(s.meaning));
    std::string more;
    if (!s.flag.empty()) more += fmt::format("Flag: \\fB{}\\fR. ", roff(s.flag, true));
    if (s.secret) more += "Environment only; never printed. ";
    if (!s.fallback.empty()) more += fmt::format("Default: {}.", roff(s.fallback));
    if (!more.empty()) out += ".br\n" + more + "\n";
  }
  out += ".SH EXIT STATUS\n";
  for (const auto& e : exit_codes())
    out += fmt::format(".TP\n.B {}\n{}\n", e.code, roff(e.meaning));
  out += ".SH FILES\n";
  for (const auto& f : files())
    out += fmt::format(".TP\n.I {}\n{}\n", roff(f.path), roff(f.meaning));
  out +=
      ".SH SEE ALSO\n"
      ".BR haproxy (1),\n"
      ".BR etcd (1),\n"
      ".BR promtool (1)\n"
      ".PP\n"
      "/usr/share/doc/certherd/README.md, and the alert rules in "
      "/usr/share/doc/certherd/certherd-alerts.yml.\n";
  return out;
}

std::string environment_file(std::string_view version) {
  std::string out = fmt::format(
      "# /etc/default/certherd: the settings of certherd.service (certherd {}).\n", version);
  out += wrapped(
      "systemd reads this file as root (EnvironmentFile=): one VARIABLE=value a line, no "
      "'export', double quotes around a value with spaces. Every setting is listed below, "
      "commented out, with its default; set what you need, then `systemctl enable --now "
      "certherd` (or `systemctl restart certherd`). The full text is in certherd(1).",
      "# ");
  out += "#\n";
  out += wrapped(
      "Secrets: this file is readable by root only (0600); keep it so. Better still, keep a "
      "secret in a file of its own and name the file here (ACME_EAB_HMAC_FILE, "
      "STATUS_TOKEN_FILE).",
      "# ");
  out += "#\n# To run a command by hand with these settings, as the service's user (as root):\n";
  out += "#   sh -c 'set -a; . /etc/default/certherd; exec runuser -u certherd -- certherd plan'\n";
  std::string_view section;
  for (const auto& s : settings()) {
    if (s.section != section) {
      section = s.section;
      out += fmt::format("\n## {}\n", section);
    }
    std::string text(s.meaning);
    if (s.secret) text += " A secret.";
    if (!s.fallback.empty()) text += fmt::format(" Default: {}.", s.fallback);
    out += "#\n" + wrapped(fmt::format("{}: {}", s.variable, text), "# ");
    out += fmt::format("#{}=\n", s.variable);
  }
  return out;
}

}  // namespace certherd::controller
