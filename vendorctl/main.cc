// vendorctl — the helpdesk and admin CLI of pam_vendor (vendorctl(8)).
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <set>

#include <sodium.h>

#include "config_file.h"
#include "ctl.h"
#include "facts.h"
#include "files.h"
#include "util.h"

namespace vendor::cli {

using namespace vendor::core;

namespace {

struct Command {
    const char* name;
    int (*fn)(Ctl&);
    bool read_only;               // takes --json
    std::set<std::string> opts;   // options taking a value
    std::set<std::string> flags;  // options without value
    const char* usage;
};

const std::vector<Command>& commands() {
    static const std::vector<Command>* cmds = new std::vector<Command>{
        {"add",
         cmd_add,
         false,
         {"--vendor", "--from", "--access", "--hours", "--key", "--hosts", "--comment", "--shell",
          "--groups"},
         {"--local", "--existing", "--allow-any-source"},
         "add NAME --vendor ORG --from CIDR[,CIDR...] [--access grant|otp|hours[+...]] [--hours "
         "SPEC]\n"
         "      [--key FILE]... [--hosts PATTERN,...] [--comment TEXT] [--local]\n"
         "      [--allow-any-source]\n"
         "      [--shell PATH] [--groups GROUP,...] | [--existing]"},
        {"remove",
         cmd_remove,
         false,
         {},
         {"--keep-state", "--keep-home", "--delete-home", "--archive-home"},
         "remove NAME [--keep-state] [--keep-home|--delete-home|--archive-home]"},
        {"reindex", cmd_reindex, false, {}, {}, "reindex"},
        {"key",
         cmd_key,
         true,
         {},
         {},
         "key add NAME FILE | key remove NAME FINGERPRINT | key list NAME"},
        {"authorized-keys",
         cmd_authorized_keys,
         false,
         {},
         {},
         "authorized-keys USER   (sshd AuthorizedKeysCommand; runs as keys_user)"},
        {"check-sshd", cmd_check_sshd, true, {}, {}, "check-sshd"},
        {"list", cmd_list, true, {}, {}, "list"},
        {"show", cmd_show, true, {}, {}, "show NAME"},
        {"activate",
         cmd_activate,
         false,
         {"--for", "--ticket", "--reason"},
         {},
         "activate NAME --for DURATION [--ticket ID] [--reason TEXT]"},
        {"deactivate", cmd_deactivate, false, {}, {}, "deactivate NAME"},
        {"otp", cmd_otp, false, {"--ttl"}, {"--quiet"}, "otp NAME [--ttl DURATION] [--quiet]"},
        {"totp", cmd_totp, false, {}, {"--quiet"}, "totp enroll NAME | totp code NAME [--quiet]"},
        {"unlock", cmd_unlock, false, {}, {}, "unlock NAME"},
        {"status", cmd_status, true, {}, {}, "status"},
        {"explain",
         cmd_explain,
         true,
         {"--from", "--at", "--phase", "--key"},
         {"--with-code"},
         "explain NAME --from IP|local [--at TIME] [--phase auth|account|session|keys] "
         "[--key FILE|none] [--with-code]"},
        {"log",
         cmd_log,
         true,
         {"--since", "--account"},
         {"--verify"},
         "log [--since DURATION] [--account NAME] [--verify]"},
        {"prune", cmd_prune, false, {}, {"--force", "--dry-run"}, "prune [--force] [--dry-run]"},
        {"config", cmd_config, false, {}, {"--check", "--keys"}, "config [--check | --keys]"},
        {"reasons", cmd_reasons, true, {}, {}, "reasons"},
    };
    return *cmds;
}

void usage(FILE* f) {
    std::fprintf(f, "usage: vendorctl [--config PATH] [--json] COMMAND [ARGS]\n\ncommands:\n");
    for (const auto& c : commands()) std::fprintf(f, "  %s\n", c.usage);
    std::fprintf(f, "\nRead commands take --json. Exit status: 0 ok, 1 refused or error, 2 usage.\n"
                    "See vendorctl(8).\n");
}

int real_main(int argc, char** argv) {
    std::string config_path = kDefaultConfigPath;
    bool explicit_config = false, json = false;
    std::vector<std::string> words;
    for (int i = 1; i < argc; ++i) words.emplace_back(argv[i]);
    if (words.empty()) {
        usage(stderr);
        return kExitUsage;
    }
    // Global options anywhere on the line.
    std::vector<std::string> rest;
    for (std::size_t i = 0; i < words.size(); ++i) {
        const auto& w = words[i];
        if (w == "--help" || w == "-h" || w == "help") {
            usage(stdout);
            return kExitOk;
        }
        if (w == "--version") {
            std::printf("vendorctl %s\n", PAM_VENDOR_VERSION);
            return kExitOk;
        }
        if (w == "--config" || w.rfind("--config=", 0) == 0) {
            if (w == "--config") {
                if (i + 1 >= words.size()) throw UsageError{"--config needs a path"};
                config_path = words[++i];
            } else {
                config_path = w.substr(9);
            }
            explicit_config = true;
            continue;
        }
        if (w == "--json") {
            json = true;
            continue;
        }
        rest.push_back(w);
    }
    if (rest.empty()) throw UsageError{"no command"};
    const Command* cmd = nullptr;
    for (const auto& c : commands())
        if (rest[0] == c.name) cmd = &c;
    if (!cmd) throw UsageError{"unknown command '" + escape(rest[0], 64) + "'"};
    Ctl c;
    c.json = json;
    if (json && !cmd->read_only)
        throw UsageError{std::string("--json is for read commands, not ") + cmd->name};
    for (std::size_t i = 1; i < rest.size(); ++i) {
        std::string w = rest[i];
        if (w.rfind("--", 0) == 0 && w.size() > 2) {
            std::string val;
            bool inline_val = false;
            if (auto eq = w.find('='); eq != std::string::npos) {
                val = w.substr(eq + 1);
                w.resize(eq);
                inline_val = true;
            }
            if (cmd->opts.count(w)) {
                if (!inline_val) {
                    if (i + 1 >= rest.size()) throw UsageError{w + " needs a value"};
                    val = rest[++i];
                }
                c.args.opt.emplace(w, val);
            } else if (cmd->flags.count(w) && !inline_val) {
                c.args.opt.emplace(w, "");
            } else {
                throw UsageError{std::string("unknown option '") + escape(w, 64) + "' for " +
                                 cmd->name};
            }
        } else {
            c.args.pos.push_back(w);
        }
    }
    // Every command but authorized-keys reads or writes root-only state:
    // refuse before touching it. authorized-keys runs as sshd's unprivileged
    // AuthorizedKeysCommandUser and reads only the published public view.
    bool unprivileged_ok = std::string(cmd->name) == "authorized-keys";
    // The built-in tables (config --keys, reasons) describe the program,
    // not this system: no root, no configuration file (the man-page lint
    // runs them from the build tree).
    if ((std::string(cmd->name) == "config" && c.args.has("--keys")) ||
        std::string(cmd->name) == "reasons")
        return cmd->fn(c);
    if (geteuid() != 0 && !unprivileged_ok)
        return fail("must be run as root (try: sudo vendorctl ...)");
    umask(077);
    if (sodium_init() < 0) return fail("libsodium failed to initialise");
    c.config_path = config_path;
    c.explicit_config = explicit_config;
    auto cfg = load_config(config_path, explicit_config);
    // explain tells what the module does with an unusable configuration
    // (vendors denied with config_error) instead of refusing to run.
    if (!cfg && std::string(cmd->name) == "explain") {
        c.config_problem = cfg.error().detail;
        cfg = Config{};
    }
    if (!cfg) return fail(cfg.error());
    c.cfg = std::move(*cfg);
    // What this configuration says about who is a vendor, kept beside it
    // for the module to use if the file ever becomes unusable (identity.h,
    // identify_user). Best effort: it only widens a fallback.
    if (geteuid() == 0 && !c.cfg.path.empty() && c.config_problem.empty())
        (void)remember_config(config_path, c.cfg);
    c.host = this_host(c.cfg);
    openlog("vendorctl", LOG_PID, LOG_AUTHPRIV);
    return cmd->fn(c);
}

}  // namespace

}  // namespace vendor::cli

int main(int argc, char** argv) {
    try {
        return vendor::cli::real_main(argc, argv);
    } catch (const vendor::cli::UsageError& u) {
        std::fprintf(stderr, "vendorctl: %s\n(see vendorctl --help)\n", u.msg.c_str());
        return vendor::cli::kExitUsage;
    } catch (const std::bad_alloc&) {
        std::fprintf(stderr, "vendorctl: out of memory\n");
        return vendor::cli::kExitRefused;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "vendorctl: internal error: %s\n", e.what());
        return vendor::cli::kExitRefused;
    }
}
