/* Host-engine connection options: MQTT user name and password file, clean
 * start, will message, failover servers, HTTP CONNECT proxy, ALPN and the
 * TLS private-key password. Typed setters copy everything; the session
 * takes a deep copy at creation (aioe__session_conn_opts_copy). Secrets are never
 * held here: only the paths of files that hold them, read right before
 * each connect and wiped after (session_supervisor.c). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "session_internal.h"
#include "spec/spec.h"

/* A password file larger than this is a mistake, not a password. */
#define AIOE_MAX_SECRET_FILE 65535

void aioe__session_conn_opts_init(aioe__conn_opts *c)
{
    memset(c, 0, sizeof *c);
}

static void will_free(aioe__will *w)
{
    if (!w)
        return;
    free(w->topic);
    free(w->payload);
    MQTTProperties_free(&w->props);
    free(w);
}

static void servers_free(aioe__server *sv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(sv[i].host);
        free(sv[i].uri);
    }
    free(sv);
}

void aioe__session_conn_opts_clear(aioe__conn_opts *c)
{
    free(c->username);
    free(c->password_file);
    free(c->key_password_file);
    will_free(c->will);
    servers_free(c->servers, c->n_servers);
    if (c->proxy) /* may hold proxy credentials */
        OPENSSL_cleanse(c->proxy, strlen(c->proxy));
    free(c->proxy);
    free(c->proxy_host);
    free(c->no_proxy);
    free(c->alpn);
    for (size_t i = 0; i < c->n_pins; i++) {
        free(c->pins[i].name);
        free(c->pins[i].key);
        free(c->pins[i].path);
    }
    free(c->pins);
    aioe__session_conn_opts_init(c);
}

static int dup_opt(char **dst, const char *src)
{
    *dst = NULL;
    return src && !(*dst = strdup(src)) ? AIOE_ERR_NOMEM : AIOE_OK;
}

static int will_copy(aioe__will **dst, const aioe__will *src)
{
    *dst = NULL;
    if (!src)
        return AIOE_OK;
    aioe__will *w = calloc(1, sizeof *w);
    if (!w)
        return AIOE_ERR_NOMEM;
    w->qos = src->qos;
    w->retain = src->retain;
    w->payload_len = src->payload_len;
    w->topic = strdup(src->topic);
    w->payload = malloc(src->payload_len ? src->payload_len : 1);
    if (!w->topic || !w->payload) {
        will_free(w);
        return AIOE_ERR_NOMEM;
    }
    if (src->payload_len)
        memcpy(w->payload, src->payload, src->payload_len);
    w->props = MQTTProperties_copy(&src->props);
    if (w->props.count != src->props.count) {
        will_free(w);
        return AIOE_ERR_NOMEM;
    }
    *dst = w;
    return AIOE_OK;
}

int aioe__session_conn_opts_copy(aioe__conn_opts *dst, const aioe__conn_opts *src)
{
    aioe__session_conn_opts_init(dst);
    dst->clean_start = src->clean_start;
    int rc = dup_opt(&dst->username, src->username);
    if (rc == AIOE_OK)
        rc = dup_opt(&dst->password_file, src->password_file);
    if (rc == AIOE_OK)
        rc = dup_opt(&dst->key_password_file, src->key_password_file);
    if (rc == AIOE_OK)
        rc = dup_opt(&dst->proxy, src->proxy);
    if (rc == AIOE_OK)
        rc = dup_opt(&dst->proxy_host, src->proxy_host);
    dst->proxy_port = src->proxy_port;
    if (rc == AIOE_OK)
        rc = dup_opt(&dst->no_proxy, src->no_proxy);
    if (rc == AIOE_OK)
        rc = will_copy(&dst->will, src->will);
    if (rc == AIOE_OK && src->alpn_len) {
        if (!(dst->alpn = malloc(src->alpn_len + 1)))
            rc = AIOE_ERR_NOMEM;
        else {
            memcpy(dst->alpn, src->alpn, src->alpn_len + 1);
            dst->alpn_len = src->alpn_len;
        }
    }
    if (rc == AIOE_OK && src->n_servers) {
        dst->servers = calloc(src->n_servers, sizeof *dst->servers);
        if (!dst->servers)
            rc = AIOE_ERR_NOMEM;
        for (size_t i = 0; rc == AIOE_OK && i < src->n_servers; i++) {
            dst->n_servers++;
            dst->servers[i].port = src->servers[i].port;
            rc = dup_opt(&dst->servers[i].host, src->servers[i].host);
        }
    }
    if (rc == AIOE_OK && src->n_pins) {
        if (!(dst->pins = calloc(src->n_pins, sizeof *dst->pins)))
            rc = AIOE_ERR_NOMEM;
        for (size_t i = 0; rc == AIOE_OK && i < src->n_pins; i++) {
            dst->n_pins++;
            dst->pins[i].kind = src->pins[i].kind;
            rc = dup_opt(&dst->pins[i].name, src->pins[i].name);
            if (rc == AIOE_OK)
                rc = dup_opt(&dst->pins[i].key, src->pins[i].key);
            if (rc == AIOE_OK)
                rc = dup_opt(&dst->pins[i].path, src->pins[i].path);
        }
    }
    if (rc != AIOE_OK)
        aioe__session_conn_opts_clear(dst);
    return rc;
}

/* ---- setters ---------------------------------------------------------- */

static int replace(char **slot, const char *v)
{
    char *c = NULL;
    if (v && !(c = strdup(v)))
        return AIOE_ERR_NOMEM;
    free(*slot);
    *slot = c;
    return AIOE_OK;
}

/* The spec's rule for strings (non-empty, no control character), and the
 * MQTT limit. */
static bool valid_text(const char *v)
{
    aioe__field_problem p;
    return strlen(v) <= 65535 && aioe__spec_check_text(v, strlen(v), &p);
}

int aioe_session_options_set_username(aioe_session_options *o, const char *username)
{
    if (!o || (username && !valid_text(username)))
        return AIOE_ERR_INVALID_ARG;
    return replace(&o->conn.username, username);
}

int aioe_session_options_set_password_file(aioe_session_options *o, const char *path)
{
    if (!o || (path && !*path))
        return AIOE_ERR_INVALID_ARG;
    return replace(&o->conn.password_file, path);
}

int aioe_session_options_set_key_password_file(aioe_session_options *o,
                                               const char *path)
{
    if (!o || (path && !*path))
        return AIOE_ERR_INVALID_ARG;
    return replace(&o->conn.key_password_file, path);
}

int aioe_session_options_set_clean_start(aioe_session_options *o, bool clean_start)
{
    if (!o)
        return AIOE_ERR_INVALID_ARG;
    o->conn.clean_start = clean_start;
    return AIOE_OK;
}

int aioe_session_options_add_server(aioe_session_options *o, const char *host_port)
{
    if (!o || !host_port || !*host_port || o->conn.n_servers >= 64)
        return AIOE_ERR_INVALID_ARG;
    char *host = NULL;
    uint16_t port = 0;
    aioe__field_problem pb;
    /* the parser's own check of `host` (spec_fields.c), so both agree */
    if (!aioe__spec_check_host(host_port, strlen(host_port), false, &host, &port, NULL, &pb))
        return AIOE_ERR_INVALID_ARG;
    aioe__server *n = realloc(o->conn.servers,
                              (o->conn.n_servers + 1) * sizeof *n);
    if (!n) {
        free(host);
        return AIOE_ERR_NOMEM;
    }
    o->conn.servers = n;
    n[o->conn.n_servers].host = host;
    n[o->conn.n_servers].port = port;
    n[o->conn.n_servers].uri = NULL;
    o->conn.n_servers++;
    return AIOE_OK;
}

int aioe_session_options_clear_servers(aioe_session_options *o)
{
    if (!o)
        return AIOE_ERR_INVALID_ARG;
    servers_free(o->conn.servers, o->conn.n_servers);
    o->conn.servers = NULL;
    o->conn.n_servers = 0;
    return AIOE_OK;
}

int aioe_session_options_set_proxy(aioe_session_options *o, const char *url,
                                   const char *no_proxy)
{
    if (!o)
        return AIOE_ERR_INVALID_ARG;
    /* Paho takes "http://[user:pass@]host:port" and speaks HTTP CONNECT
     * to the proxy for TLS and plain connections alike. */
    char *phost = NULL;
    uint16_t pport = 0;
    if (url) {
        aioe__field_problem pb;
        if (strncmp(url, "http://", 7) != 0 || !aioe__spec_check_text(url, strlen(url), &pb))
            return AIOE_ERR_INVALID_ARG;
        const char *hp = url + 7, *at = strrchr(hp, '@');
        if (at)
            hp = at + 1;
        if (strpbrk(hp, " /?#") ||
            !aioe__spec_check_host(hp, strlen(hp), false, &phost, &pport, NULL, &pb))
            return AIOE_ERR_INVALID_ARG;
    }
    aioe__field_problem npb;
    if (no_proxy && *no_proxy && !aioe__spec_check_text(no_proxy, strlen(no_proxy), &npb)) {
        free(phost);
        return AIOE_ERR_INVALID_ARG;
    }
    char *u = NULL, *np = NULL;
    if ((url && !(u = strdup(url))) || (no_proxy && !(np = strdup(no_proxy)))) {
        free(u);
        free(np);
        free(phost);
        return AIOE_ERR_NOMEM;
    }
    if (o->conn.proxy)
        OPENSSL_cleanse(o->conn.proxy, strlen(o->conn.proxy));
    free(o->conn.proxy);
    free(o->conn.proxy_host);
    free(o->conn.no_proxy);
    o->conn.proxy = u;
    o->conn.proxy_host = phost;
    o->conn.proxy_port = pport;
    o->conn.no_proxy = np;
    return AIOE_OK;
}

int aioe_session_options_set_alpn(aioe_session_options *o,
                                  const char *const *protocols, size_t count)
{
    if (!o || (count && !protocols))
        return AIOE_ERR_INVALID_ARG;
    size_t total = 0;
    for (size_t i = 0; i < count; i++) {
        size_t l = protocols[i] ? strlen(protocols[i]) : 0;
        if (l == 0 || l > 255)
            return AIOE_ERR_INVALID_ARG;
        total += 1 + l;
    }
    if (total > 65535)
        return AIOE_ERR_INVALID_ARG;
    /* NUL-terminated although ALPN's wire format has a length: Paho 1.3.12
     * copies protos with strdup() (MQTTAsync_connect). No byte inside is 0:
     * lengths are 1..255 and names are C strings. */
    unsigned char *w = NULL;
    if (total && !(w = malloc(total + 1)))
        return AIOE_ERR_NOMEM;
    size_t at = 0;
    for (size_t i = 0; i < count; i++) {
        size_t l = strlen(protocols[i]);
        w[at++] = (unsigned char)l;
        memcpy(w + at, protocols[i], l);
        at += l;
    }
    if (w)
        w[at] = 0;
    free(o->conn.alpn);
    o->conn.alpn = w;
    o->conn.alpn_len = total;
    return AIOE_OK;
}

int aioe_session_options_set_resource_file(aioe_session_options *o,
                                           aioe_resource_kind kind,
                                           const char *name, const char *key,
                                           const char *path)
{
    if (!o || (kind != AIOE_RESOURCE_SECRET && kind != AIOE_RESOURCE_CONFIG_MAP) ||
        !name || !aioe_resolver_valid_component(name) ||
        (key && !aioe_resolver_valid_component(key)) ||
        (!key && kind != AIOE_RESOURCE_CONFIG_MAP) || (path && !*path))
        return AIOE_ERR_INVALID_ARG;
    aioe__conn_opts *c = &o->conn;
    for (size_t i = 0; i < c->n_pins; i++) {
        aioe__pinned_file *p = &c->pins[i];
        if (p->kind == kind && strcmp(p->name, name) == 0 &&
            (p->key == key || (p->key && key && strcmp(p->key, key) == 0))) {
            if (path)
                return replace(&p->path, path);
            free(p->name);
            free(p->key);
            free(p->path);
            c->pins[i] = c->pins[--c->n_pins];
            return AIOE_OK;
        }
    }
    if (!path)
        return AIOE_OK;
    aioe__pinned_file *n = realloc(c->pins, (c->n_pins + 1) * sizeof *n);
    if (!n)
        return AIOE_ERR_NOMEM;
    c->pins = n;
    aioe__pinned_file *p = &n[c->n_pins];
    memset(p, 0, sizeof *p);
    p->kind = kind;
    if (!(p->name = strdup(name)) || (key && !(p->key = strdup(key))) ||
        !(p->path = strdup(path))) {
        free(p->name);
        free(p->key);
        free(p->path);
        return AIOE_ERR_NOMEM;
    }
    c->n_pins++;
    return AIOE_OK;
}

/* ---- helpers for the session ----------------------------------------- */

bool aioe__session_no_proxy_match(const char *no_proxy, const char *host)
{
    if (!no_proxy || !host)
        return false;
    size_t hl = strlen(host);
    const char *p = no_proxy;
    while (*p) {
        while (*p == ',' || *p == ' ')
            p++;
        const char *e = p;
        while (*e && *e != ',' && *e != ' ')
            e++;
        size_t l = (size_t)(e - p);
        if (l == 1 && *p == '*')
            return true;
        const char *pat = p;
        if (l && *pat == '.') { /* ".example.com" = "example.com" and below */
            pat++;
            l--;
        }
        if (l && hl == l && strncasecmp(host, pat, l) == 0)
            return true;
        if (l && hl > l && host[hl - l - 1] == '.' &&
            strncasecmp(host + hl - l, pat, l) == 0)
            return true;
        p = e;
    }
    return false;
}

int aioe__session_read_secret_file(const char *what, const char *path, char **out,
                           size_t *len, char *err, size_t errlen)
{
    *out = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot open the %s file %s: %s", what, path,
                 strerror(e));
        return e == ENOENT ? AIOE_ERR_NOT_FOUND : AIOE_ERR_IO;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        st.st_size > AIOE_MAX_SECRET_FILE) {
        close(fd);
        snprintf(err, errlen, "the %s file %s is not a regular file of at most "
                 "%d bytes", what, path, AIOE_MAX_SECRET_FILE);
        return AIOE_ERR_IO;
    }
    size_t cap = (size_t)st.st_size + 1, n = 0;
    char *buf = malloc(cap);
    if (!buf) {
        close(fd);
        return AIOE_ERR_NOMEM;
    }
    for (;;) {
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            OPENSSL_cleanse(buf, cap);
            free(buf);
            snprintf(err, errlen, "cannot read the %s file %s: %s", what, path,
                     strerror(e));
            return AIOE_ERR_IO;
        }
        if (r == 0 || n + (size_t)r == cap - 1) {
            n += (size_t)r;
            break;
        }
        n += (size_t)r;
    }
    close(fd);
    /* `echo secret > file` adds a newline that is not part of the secret */
    if (n && buf[n - 1] == '\n')
        n--;
    if (n && buf[n - 1] == '\r')
        n--;
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return AIOE_OK;
}

static int server_uri(const aioe_session *s, const char *host, uint16_t port,
                      char **out)
{
    bool ws = aioe_endpoint_protocol(s->ep) == AIOE_PROTOCOL_WEBSOCKETS;
    const char *scheme = ws ? (s->tls ? "wss" : "ws") : (s->tls ? "ssl" : "tcp");
    bool v6 = strchr(host, ':') != NULL;
    const char *path = ws ? s->opt.ws_path : "";
    size_t n = strlen(host) + strlen(path) + 32;
    if (!(*out = malloc(n)))
        return AIOE_ERR_NOMEM;
    snprintf(*out, n, "%s://%s%s%s:%u%s", scheme, v6 ? "[" : "", host, v6 ? "]" : "",
             (unsigned)port, path);
    return AIOE_OK;
}

int aioe__session_build_servers(aioe_session *s)
{
    size_t n = 1 + s->opt.conn.n_servers;
    s->servers = calloc(n, sizeof *s->servers);
    if (!s->servers)
        return AIOE_ERR_NOMEM;
    s->n_servers = n;
    for (size_t i = 0; i < n; i++) {
        const char *h = i ? s->opt.conn.servers[i - 1].host : aioe_endpoint_host(s->ep);
        uint16_t p = i ? s->opt.conn.servers[i - 1].port : s->port;
        if (!(s->servers[i].host = strdup(h)))
            return AIOE_ERR_NOMEM;
        s->servers[i].port = p;
        int rc = server_uri(s, h, p, &s->servers[i].uri);
        if (rc != AIOE_OK)
            return rc;
    }
    s->use_proxy = s->opt.conn.proxy &&
                   !aioe__session_no_proxy_match(s->opt.conn.no_proxy, s->servers[0].host);
    /* Paho 1.3.12 strips "https://" (not "http://") from httpsProxy before
     * reading the credentials, and speaks plain HTTP CONNECT to it either
     * way: spell the same proxy with that prefix for TLS connections. */
    if (s->use_proxy) {
        size_t len = strlen(s->opt.conn.proxy) + 2; /* "http://" -> "https://" */
        if (!(s->https_proxy = malloc(len)))
            return AIOE_ERR_NOMEM;
        snprintf(s->https_proxy, len, "https://%s", s->opt.conn.proxy + 7);
    }
    return AIOE_OK;
}

void aioe__session_free_servers(aioe_session *s)
{
    if (s->https_proxy)
        OPENSSL_cleanse(s->https_proxy, strlen(s->https_proxy));
    free(s->https_proxy);
    s->https_proxy = NULL;
    servers_free(s->servers, s->n_servers);
    s->servers = NULL;
    s->n_servers = 0;
}

int aioe__session_secrets_read(const aioe__conn_opts *c, aioe__conn_secrets *out,
                            char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    int rc = AIOE_OK;
    if (c->password_file)
        rc = aioe__session_read_secret_file("MQTT password", c->password_file,
                                    &out->password, &out->password_len, err, errlen);
    if (rc == AIOE_OK && c->key_password_file)
        rc = aioe__session_read_secret_file("TLS key password", c->key_password_file,
                                    &out->key_password, &out->key_password_len,
                                    err, errlen);
    if (rc != AIOE_OK)
        aioe__session_secrets_wipe(out);
    return rc;
}

void aioe__session_secrets_wipe(aioe__conn_secrets *s)
{
    if (s->password)
        OPENSSL_cleanse(s->password, s->password_len);
    if (s->key_password)
        OPENSSL_cleanse(s->key_password, s->key_password_len);
    free(s->password);
    free(s->key_password);
    memset(s, 0, sizeof *s);
}
