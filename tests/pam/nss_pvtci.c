/* tests/pam/nss_pvtci.c — libnss_pvtci.so.2, a test NSS source that answers
 * getpwnam for the spellings a directory service accepts besides the
 * account's own name: any case ("PVT_EXT1"), "name@corp.example" and
 * "CORP\name" — the way sssd's AD provider (case_sensitive = false, fully
 * qualified names) resolves them. It returns the account's canonical entry
 * from /etc/passwd, so pw_name differs from the name asked for.
 *
 * Used only by tests/pam, listed after "files" on the passwd line of a
 * private nsswitch.conf bind-mounted in the test's own mount namespace
 * (harness.cc); exact names are answered by "files" before it.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <nss.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>

#define PVT_EXPORT __attribute__((visibility("default")))

/* The name with a "@corp.example" suffix or "CORP\" prefix removed, lowered. */
static int canonical_form(const char* in, char* out, size_t n) {
    const char* bs = strchr(in, '\\');
    if (bs) {
        if (strncasecmp(in, "corp\\", 5) != 0) return -1;
        in = bs + 1;
    }
    size_t len = strlen(in);
    const char* at = strchr(in, '@');
    if (at) {
        if (strcasecmp(at, "@corp.example") != 0) return -1;
        len = (size_t)(at - in);
    }
    if (len == 0 || len >= n) return -1;
    for (size_t i = 0; i < len; ++i) out[i] = (char)tolower((unsigned char)in[i]);
    out[len] = '\0';
    return 0;
}

static char* put(char** p, size_t* left, const char* s) {
    size_t n = strlen(s) + 1;
    if (n > *left) return NULL;
    char* r = *p;
    memcpy(r, s, n);
    *p += n;
    *left -= n;
    return r;
}

PVT_EXPORT enum nss_status _nss_pvtci_getpwnam_r(const char* name, struct passwd* pw, char* buf,
                                                 size_t buflen, int* errnop) {
    char want[64];
    if (canonical_form(name, want, sizeof want) != 0 || strncmp(want, "pvt_", 4) != 0)
        return NSS_STATUS_NOTFOUND;
    FILE* f = fopen("/etc/passwd", "re");
    if (!f) {
        *errnop = errno;
        return NSS_STATUS_UNAVAIL;
    }
    struct passwd* ent;
    enum nss_status st = NSS_STATUS_NOTFOUND;
    while ((ent = fgetpwent(f)) != NULL) {
        if (strcmp(ent->pw_name, want) != 0) continue;
        char* p = buf;
        size_t left = buflen;
        pw->pw_name = put(&p, &left, ent->pw_name);
        pw->pw_passwd = put(&p, &left, "x");
        pw->pw_gecos = put(&p, &left, ent->pw_gecos ? ent->pw_gecos : "");
        pw->pw_dir = put(&p, &left, ent->pw_dir ? ent->pw_dir : "/");
        pw->pw_shell = put(&p, &left, ent->pw_shell ? ent->pw_shell : "/bin/sh");
        if (!pw->pw_name || !pw->pw_passwd || !pw->pw_gecos || !pw->pw_dir || !pw->pw_shell) {
            *errnop = ERANGE;
            st = NSS_STATUS_TRYAGAIN;
            break;
        }
        pw->pw_uid = ent->pw_uid;
        pw->pw_gid = ent->pw_gid;
        st = NSS_STATUS_SUCCESS;
        break;
    }
    fclose(f);
    return st;
}
