// key add|remove|list, authorized-keys, check-sshd
#include <spawn.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>

#include "accounts.h"
#include "authkeys.h"
#include "ctl.h"
#include "facts.h"
#include "files.h"
#include "json.h"
#include "util.h"

extern "C" char** environ;

namespace vendor::cli {

using namespace vendor::core;

int cmd_key(Ctl& c) {
    std::string sub = need_pos(c, 0, "add, remove or list");
    std::string name = account_arg(c, 1);
    if (sub == "list") {
        auto e = load_entry(c, name);
        if (!e) return fail(e.error());
        Json arr = Json::array();
        for (const auto& k : e->keys) {
            auto pk = parse_public_key(k);
            if (!pk) continue;
            if (c.json) {
                Json j = Json::object();
                j.set("type", pk->type).set("bits", static_cast<std::int64_t>(pk->bits));
                j.set("fingerprint", pk->fingerprint).set("comment", pk->comment);
                arr.push(std::move(j));
            } else {
                std::printf("%u %s %s (%s)\n", pk->bits, pk->fingerprint.c_str(),
                            escape(pk->comment, 80).c_str(), pk->type.c_str());
            }
        }
        if (c.json) std::printf("%s\n", arr.dump_pretty().c_str());
        else if (e->keys.empty()) std::printf("%s has no pinned key\n", name.c_str());
        return kExitOk;
    }
    if (c.json) throw UsageError{"--json is for key list"};
    Accounts accounts(c.cfg);
    Result<KeysOutcome> r = make_error(Code::internal, "");
    if (sub == "add") {
        std::string file = need_pos(c, 2, "public key FILE");
        auto text = read_input_file(file, 65536);
        if (!text) return fail(text.error());
        std::vector<PublicKey> keys;
        for (const auto& line : split(*text, '\n')) {
            if (line.empty() || line[0] == '#') continue;
            // The error names the key by its rank, never by the file's bytes.
            auto pk = parse_public_key(line);
            if (!pk)
                return fail(escape(file, 200) + ": key " + std::to_string(keys.size() + 1) + ": " +
                            pk.error().detail);
            keys.push_back(std::move(*pk));
        }
        r = accounts.add_keys(name, keys);
        if (!r) return fail(r.error());
        for (const auto& ch : r->changes) {
            if (ch.already_pinned) std::printf("%s already pinned\n", ch.key.fingerprint.c_str());
            else
                std::printf("pinned %s %s (%u bits)\n", ch.key.type.c_str(),
                            ch.key.fingerprint.c_str(), ch.key.bits);
        }
        if (r->added == 0) return kExitOk;
    } else if (sub == "remove") {
        std::string fp = need_pos(c, 2, "key FINGERPRINT (SHA256:...)");
        r = accounts.remove_key(name, fp);
        if (!r) return fail(r.error());
        std::printf("unpinned %s\n", fp.c_str());
    } else {
        throw UsageError{"key takes add, remove or list"};
    }
    Event ev;
    ev.account = name;
    ev.vendor = r->entry.vendor;
    ev.event = sub == "add" ? "key_added" : "key_removed";
    // The last key the command pinned, or the one it removed.
    for (const auto& ch : r->changes)
        if (!ch.already_pinned) ev.key = ch.key.fingerprint;
    audit(c, ev);
    return report_views(r->views) ? kExitOk : kExitRefused;
}

int cmd_authorized_keys(Ctl& c) {
    // sshd runs this for every publickey attempt, as keys_user, with the
    // user name (%u; OpenSSH 9.2 gives the command no client address).
    // Print nothing unless a gate could open. A withheld key never reaches
    // PAM, so the refusal is recorded here, in syslog (authpriv): this
    // process may not write the audit log.
    std::string name = need_pos(c, 0, "USER");
    if (c.args.pos.size() > 1) throw UsageError{"authorized-keys takes one USER"};
    if (!valid_account_name(name)) return kExitOk;
    auto v = read_authkeys(c.cfg, name);
    if (!v) {
        if (v.error().code != Code::not_found) {
            std::fprintf(stderr, "vendorctl: authorized-keys %s: %s\n", name.c_str(),
                         v.error().detail.c_str());
            syslog(LOG_AUTHPRIV | LOG_ERR,
                   "event=keys_withheld account=%s result=denied reason=state_error", name.c_str());
        }
        return kExitOk;
    }
    std::string why;
    auto lines = authorized_keys_lines(c.cfg, *v, now_s(), &why);
    if (lines.empty()) {
        syslog(LOG_AUTHPRIV | LOG_NOTICE, "event=keys_withheld account=%s result=denied reason=%s",
               name.c_str(), why.empty() ? "no_key" : why.c_str());
    }
    for (const auto& line : lines) std::printf("%s\n", line.c_str());
    return kExitOk;
}

namespace {

// `sshd -T` output: lowercase keyword, space, value.
bool sshd_dump(const std::vector<std::string>& extra, std::map<std::string, std::string>& out,
               std::string& err) {
    int pipefd[2];
    if (pipe(pipefd) != 0) {
        err = "pipe failed";
        return false;
    }
    std::vector<std::string> args = {"/usr/sbin/sshd", "-T"};
    for (const auto& e : extra) args.push_back(e);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
    posix_spawn_file_actions_addclose(&fa, pipefd[0]);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pipefd[1]);
    if (rc != 0) {
        close(pipefd[0]);
        err = "cannot run /usr/sbin/sshd (is openssh-server installed?)";
        return false;
    }
    std::string text;
    char buf[4096];
    ssize_t n;
    while ((n = read(pipefd[0], buf, sizeof buf)) > 0)
        text.append(buf, static_cast<std::size_t>(n));
    close(pipefd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        err = "sshd -T failed (configuration error?)";
        return false;
    }
    for (const auto& line : split(text, '\n')) {
        auto sp = line.find(' ');
        if (sp == std::string::npos) continue;
        out[line.substr(0, sp)] +=
            (out.count(line.substr(0, sp)) && !out[line.substr(0, sp)].empty() ? " " : "") +
            line.substr(sp + 1);
    }
    return true;
}

}  // namespace

int cmd_check_sshd(Ctl& c) {
    // Evaluate the configuration as sshd would for a member of the vendor
    // group: -C applies the Match blocks.
    std::map<std::string, std::string> global, vendor;
    std::string err;
    if (!sshd_dump({}, global, err)) return fail(err);
    // sshd resolves Match Group through the user's groups; a non-existent
    // probe user cannot match. Use an nss_vendor account when one exists.
    std::string user;
    if (auto names = Accounts(c.cfg).names(); names && !names->empty()) user = names->front();
    bool have_vendor = false;
    if (!user.empty()) {
        have_vendor = sshd_dump(
            {"-C", "user=" + user + ",host=vendor.invalid,addr=192.0.2.1,laddr=192.0.2.2,lport=22"},
            vendor, err);
    }
    struct Check {
        std::string what, expect, got;
        bool ok;
    };
    std::vector<Check> checks;
    auto want = [&](const std::map<std::string, std::string>& m, const std::string& key,
                    const std::string& val, const std::string& what) {
        auto it = m.find(key);
        std::string got = it == m.end() ? "(unset)" : it->second;
        checks.push_back({what, key + " " + val, got, got == val});
    };
    want(global, "usepam", "yes", "sshd hands authentication and account checks to PAM");
    // UseDNS yes puts a host name in PAM_RHOST, which the module never
    // resolves: every vendor login would be source_unknown.
    want(global, "usedns", "no", "PAM_RHOST is the client's numeric address");
    const auto& m = have_vendor ? vendor : global;
    std::string who = have_vendor ? " (for " + user + ")"
                                  : " (global; add a vendor account to check Match blocks)";
    want(m, "kbdinteractiveauthentication", "yes",
         "one-time codes are asked through keyboard-interactive" + who);
    want(m, "passwordauthentication", "no", "no password logins for vendors" + who);
    want(m, "authorizedkeysfile", "none", "keys come only from vendorctl, not ~/.ssh" + who);
    {
        // Any vendorctl path and options, as long as it is the authorized-keys
        // command given the user name.
        auto it = m.find("authorizedkeyscommand");
        std::string got = it == m.end() ? "(unset)" : it->second;
        bool ok = got.find("vendorctl") != std::string::npos &&
                  got.find("authorized-keys %u") != std::string::npos;
        checks.push_back({"pinned keys through vendorctl" + who,
                          "authorizedkeyscommand /usr/sbin/vendorctl authorized-keys %u", got, ok});
    }
    want(m, "authorizedkeyscommanduser", c.cfg.keys_user, "the command runs unprivileged" + who);
    {
        // otp accounts need the code after the key; accounts without the otp
        // gate log in with the key alone (PAM auth refuses them by design).
        auto it = m.find("authenticationmethods");
        std::string got = it == m.end() ? "(unset)" : it->second;
        bool ok = got == "publickey,keyboard-interactive" || got == "publickey";
        checks.push_back({"a pinned key first (then the code for otp accounts)" + who,
                          "authenticationmethods publickey,keyboard-interactive (or publickey)",
                          got, ok});
    }
    want(m, "allowagentforwarding", "no", "no agent forwarding for vendors" + who);
    want(m, "x11forwarding", "no", "no X11 forwarding for vendors" + who);
    {
        // ssh -L/-D/-R through a vendor session reaches the hospital network
        // from the server. DisableForwarding covers TCP and Unix sockets
        // alike (sshd -T still prints the per-kind values unchanged).
        auto get = [&](const char* k) {
            auto it = m.find(k);
            return it == m.end() ? std::string("(unset)") : it->second;
        };
        std::string df = get("disableforwarding"), tcp = get("allowtcpforwarding"),
                    sock = get("allowstreamlocalforwarding");
        bool ok = df == "yes" || (tcp == "no" && sock == "no");
        checks.push_back({"no port or socket forwarding (ssh -L/-D/-R) for vendors" + who,
                          "disableforwarding yes (or allowtcpforwarding no and "
                          "allowstreamlocalforwarding no)",
                          "disableforwarding " + df + ", allowtcpforwarding " + tcp +
                              ", allowstreamlocalforwarding " + sock,
                          ok});
    }
    want(m, "permittunnel", "no", "no tun/tap tunnel for vendors" + who);
    int bad = 0;
    Json arr = Json::array();
    for (const auto& ch : checks) {
        if (!ch.ok) ++bad;
        if (c.json) {
            Json j = Json::object();
            j.set("check", ch.what).set("expect", ch.expect).set("got", ch.got).set("ok", ch.ok);
            arr.push(std::move(j));
        } else {
            std::printf(
                "%-4s %-60s %s%s\n", ch.ok ? "ok" : "MISS", ch.what.c_str(),
                ch.ok ? "" : "want: ", ch.ok ? "" : (ch.expect + " (now: " + ch.got + ")").c_str());
        }
    }
    if (c.json) std::printf("%s\n", arr.dump_pretty().c_str());
    else if (bad)
        std::printf("%d setting(s) missing; see pam_vendor(8), SSHD CONFIGURATION\n", bad);
    return bad ? kExitRefused : kExitOk;
}

}  // namespace vendor::cli
