/* aioe-sub: subscribes through a DataflowEndpoint (any authentication
 * method) and prints each message with its content type and user
 * properties, to try an endpoint file before deploying it.
 *
 *   aioe-sub [options] ENDPOINT.yaml FILTER...
 *
 * Output, one block per message:
 *   TOPIC qos=Q retain=R                (escaped like the payload)
 *     content-type: TYPE                (when present)
 *     user-property: NAME=VALUE         (each, in wire order)
 *     payload (N bytes): TEXT           (control bytes, invalid UTF-8 as \xHH)
 * With --payload-only just the payload, one line per message.
 * With --inbox DIR every message goes through a durable inbox in DIR
 * (<aioendpoint/inbox.h>): it is stored before the broker gets its PUBACK,
 * printed and flushed, and only then acknowledged to the inbox, so with a
 * persistent session (a fixed --instance) a SIGKILL at any moment loses
 * nothing and a restart prints what was not acknowledged (marked
 * `redelivered=1`; it may have been printed already: at-least-once).
 * With -F FORMAT one line per message from the format (like mosquitto_sub -F):
 *   %t topic  %p payload  %l payload length  %q QoS  %r retain (0/1)
 *   %C content type  %U user properties (NAME=VALUE, comma-separated)
 *   %R response topic  %D correlation data  %E message expiry (empty if none)
 *   %j the message as one JSON object  %% a percent sign
 *   \n \t \\ escapes
 * Text fields print non-printable bytes as \xHH, except in %j, which is
 * JSON: strings are escaped; a payload that is not UTF-8 text goes in
 * "payload_base64" instead of "payload".
 * Exit status (examples/common/tool.h): 0 after -C messages or
 * SIGINT/SIGTERM, 1 bad YAML or a refused subscription, 2 usage, 3 an
 * endpoint that cannot authenticate/connect, a subscription without a
 * SUBACK within --timeout, or a session that stops for good. Built only against the public API. */
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/tool.h"
#include "pubsub-common.h"

static atomic_ulong received;
static atomic_int sub_failed;
static unsigned long max_count;
static bool payload_only;
static const char *format;
static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;

static void usage(FILE *to)
{
    fprintf(to,
        "usage: aioe-sub [options] ENDPOINT.yaml FILTER...\n"
        "       aioe-sub [options] --from-env FILTER...\n"
        "Subscribes through the endpoint's session and prints every message with\n"
        "its QoS, retain flag, content type and user properties.\n"
        "  -C, --count N        exit after N messages\n"
        "  -q, --qos N          subscription QoS 0 or 1 (default: the endpoint's qos)\n"
        "  -p, --payload-only   print only payloads, one per line\n"
        "  -I, --inbox DIR      store messages durably in DIR before acknowledging them\n"
        "                       to the broker; print, then acknowledge (needs --instance)\n"
        "  -F, --format FMT     one line per message: %%t topic, %%p payload, %%l length,\n"
        "                       %%q QoS, %%r retain, %%C content type, %%U user properties,\n"
        "                       %%R response topic, %%D correlation data, %%E expiry,\n"
        "                       %%j JSON object, %%%% percent; \\n \\t \\\\ escapes\n"
        PUBSUB_COMMON_USAGE
        TOOL_HELP_TRAILER
        "(1: invalid endpoint file, or a subscription refused; 3: cannot read the\n"
        "file, cannot connect or authenticate, no SUBACK within --timeout, or the\n"
        "session stopped for good.)\n");
}

/* Length of the valid UTF-8 sequence at s (at most n bytes) that encodes
 * a printable character, or 0: ASCII and C1 controls (U+0080..U+009F,
 * which terminals also obey), overlong forms, surrogates and stray bytes
 * such as 0xFF are not. */
static size_t printable_utf8(const unsigned char *s, size_t n)
{
    if (s[0] >= 0x20 && s[0] < 0x7f)
        return 1;
    size_t len = s[0] >= 0xc2 && s[0] <= 0xdf ? 2
                 : s[0] >= 0xe0 && s[0] <= 0xef ? 3
                 : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : 0;
    if (len == 0 || len > n)
        return 0;
    uint32_t cp = s[0] & (0x7f >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    static const uint32_t min[] = { 0, 0, 0x80, 0x800, 0x10000 };
    if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || cp <= 0x9f)
        return 0;
    return len;
}

/* Writes bytes from the broker so that none can act on the terminal or
 * forge a line: printable UTF-8 as it is, everything else as \xHH
 * (a backslash as \\). Used for topics, payloads and properties alike. */
static void put_escaped(FILE *to, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t len = u[i] == '\\' ? 0 : printable_utf8(u + i, n - i);
        if (len) {
            fwrite(u + i, 1, len, to);
            i += len;
        } else if (u[i] == '\\') {
            fputs("\\\\", to);
            i++;
        } else {
            fprintf(to, "\\x%02x", u[i]);
            i++;
        }
    }
}

/* ---- -F FORMAT ------------------------------------------------------- */

static void json_string(FILE *to, const char *s, size_t n)
{
    fputc('"', to);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\')
            fprintf(to, "\\%c", ch);
        else if (ch == '\n')
            fputs("\\n", to);
        else if (ch == '\t')
            fputs("\\t", to);
        else if (ch < 0x20 || ch == 0x7f)
            fprintf(to, "\\u%04x", ch);
        else
            fputc(ch, to);
    }
    fputc('"', to);
}

/* Well-formed UTF-8 (shortest forms, no surrogates, at most U+10FFFF). */
static bool is_utf8(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c0 = s[i];
        size_t len = c0 < 0x80 ? 1 : (c0 & 0xE0) == 0xC0 ? 2 : (c0 & 0xF0) == 0xE0 ? 3
                   : (c0 & 0xF8) == 0xF0 ? 4 : 0;
        if (!len || i + len > n || (len == 2 && c0 < 0xC2) || (len == 4 && c0 > 0xF4))
            return false;
        for (size_t k = 1; k < len; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
        if ((len == 3 && c0 == 0xE0 && s[i + 1] < 0xA0) ||
            (len == 3 && c0 == 0xED && s[i + 1] >= 0xA0) ||
            (len == 4 && c0 == 0xF0 && s[i + 1] < 0x90) ||
            (len == 4 && c0 == 0xF4 && s[i + 1] >= 0x90))
            return false;
        i += len;
    }
    return true;
}

static void base64(FILE *to, const unsigned char *s, size_t n)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    fputc('"', to);
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)s[i] << 16 | (i + 1 < n ? (unsigned)s[i + 1] << 8 : 0) |
                     (i + 2 < n ? s[i + 2] : 0);
        fputc(tab[v >> 18 & 63], to);
        fputc(tab[v >> 12 & 63], to);
        fputc(i + 1 < n ? tab[v >> 6 & 63] : '=', to);
        fputc(i + 2 < n ? tab[v & 63] : '=', to);
    }
    fputc('"', to);
}

static void print_json(FILE *to, const aioe_message *m)
{
    size_t tl, pl, n;
    const char *t = aioe_message_topic(m, &tl);
    const char *p = aioe_message_payload(m, &pl);
    fputs("{\"topic\":", to);
    json_string(to, t, tl);
    fprintf(to, ",\"qos\":%d,\"retain\":%s,\"payloadlen\":%zu,", aioe_message_qos(m),
            aioe_message_retain(m) ? "true" : "false", pl);
    if (is_utf8((const unsigned char *)p, pl)) {
        fputs("\"payload\":", to);
        json_string(to, p, pl);
    } else {
        fputs("\"payload_base64\":", to);
        base64(to, (const unsigned char *)p, pl);
    }
    const char *ct = aioe_message_content_type(m, &n);
    if (ct) {
        fputs(",\"content_type\":", to);
        json_string(to, ct, n);
    }
    const char *rt = aioe_message_response_topic(m, &n);
    if (rt) {
        fputs(",\"response_topic\":", to);
        json_string(to, rt, n);
    }
    const void *cd = aioe_message_correlation_data(m, &n);
    if (cd) {
        fputs(",\"correlation_data_base64\":", to);
        base64(to, cd, n);
    }
    uint32_t exp;
    if (aioe_message_expiry(m, &exp))
        fprintf(to, ",\"message_expiry\":%u", (unsigned)exp);
    size_t np = aioe_message_user_property_count(m);
    if (np) {
        fputs(",\"user_properties\":[", to);
        for (size_t i = 0; i < np; i++) {
            aioe_user_property up;
            if (aioe_message_user_property(m, i, &up) != AIOE_OK)
                continue;
            fputs(i ? ",{\"name\":" : "{\"name\":", to);
            json_string(to, up.name, up.name_len);
            fputs(",\"value\":", to);
            json_string(to, up.value, up.value_len);
            fputc('}', to);
        }
        fputc(']', to);
    }
    fputc('}', to);
}

static void put_escaped(FILE *to, const char *s, size_t n);

static void print_format(FILE *to, const char *fmt, const aioe_message *m)
{
    for (const char *f = fmt; *f; f++) {
        if (*f == '\\' && f[1]) {
            f++;
            fputc(*f == 'n' ? '\n' : *f == 't' ? '\t' : *f, to);
            continue;
        }
        if (*f != '%' || !f[1]) {
            fputc(*f, to);
            continue;
        }
        size_t n;
        const char *s = NULL;
        uint32_t exp;
        switch (*++f) {
        case 't': s = aioe_message_topic(m, &n); break;
        case 'p': s = aioe_message_payload(m, &n); break;
        case 'l': aioe_message_payload(m, &n); fprintf(to, "%zu", n); break;
        case 'q': fprintf(to, "%d", aioe_message_qos(m)); break;
        case 'r': fputc(aioe_message_retain(m) ? '1' : '0', to); break;
        case 'C': s = aioe_message_content_type(m, &n); break;
        case 'R': s = aioe_message_response_topic(m, &n); break;
        case 'D': s = aioe_message_correlation_data(m, &n); break;
        case 'E':
            if (aioe_message_expiry(m, &exp))
                fprintf(to, "%u", (unsigned)exp);
            break;
        case 'U':
            for (size_t i = 0; i < aioe_message_user_property_count(m); i++) {
                aioe_user_property up;
                if (aioe_message_user_property(m, i, &up) != AIOE_OK)
                    continue;
                if (i)
                    fputc(',', to);
                put_escaped(to, up.name, up.name_len);
                fputc('=', to);
                put_escaped(to, up.value, up.value_len);
            }
            break;
        case 'j': print_json(to, m); break;
        case '%': fputc('%', to); break;
        default: fputc('%', to); fputc(*f, to); break;
        }
        if (s)
            put_escaped(to, s, n);
    }
    fputc('\n', to);
}

static void print_message(const aioe_message *m)
{
    size_t tlen, plen, ctlen;
    const char *topic = aioe_message_topic(m, &tlen);
    const char *payload = aioe_message_payload(m, &plen);
    const char *ct = aioe_message_content_type(m, &ctlen);
    pthread_mutex_lock(&out_mu);
    if (max_count && atomic_load(&received) >= max_count) {
        pthread_mutex_unlock(&out_mu);
        return;
    }
    if (format) {
        print_format(stdout, format, m);
    } else if (payload_only) {
        put_escaped(stdout, payload, plen);
        fputc('\n', stdout);
    } else {
        put_escaped(stdout, topic, tlen);
        printf(" qos=%d retain=%d%s\n", aioe_message_qos(m), aioe_message_retain(m) ? 1 : 0,
               aioe_inbox_message_redelivered(m) ? " redelivered=1" : "");
        if (ct) {
            fputs("  content-type: ", stdout);
            put_escaped(stdout, ct, ctlen);
            fputc('\n', stdout);
        }
        for (size_t i = 0; i < aioe_message_user_property_count(m); i++) {
            aioe_user_property up;
            if (aioe_message_user_property(m, i, &up) != AIOE_OK)
                continue;
            fputs("  user-property: ", stdout);
            put_escaped(stdout, up.name, up.name_len);
            fputc('=', stdout);
            put_escaped(stdout, up.value, up.value_len);
            fputc('\n', stdout);
        }
        printf("  payload (%zu bytes): ", plen);
        put_escaped(stdout, payload, plen);
        fputc('\n', stdout);
    }
    fflush(stdout);
    atomic_fetch_add(&received, 1);
    pthread_mutex_unlock(&out_mu);
}

static void on_message(aioe_session *s, const aioe_message *m, void *ud)
{
    (void)s;
    (void)ud;
    print_message(m);
}

/* --inbox: print, flush, then acknowledge. */
static int drain_inbox(aioe_inbox *inbox)
{
    aioe_message *m;
    int rc = aioe_inbox_next(inbox, 20, &m);
    if (rc == AIOE_ERR_TIMEOUT)
        return 0;
    if (rc != AIOE_OK) {
        fprintf(stderr, "aioe-sub: inbox: %s\n", aioe_strerror(rc));
        return TOOL_EXIT_FAILURE;
    }
    print_message(m);
    if (ferror(stdout)) {
        aioe_message_free(m); /* not acknowledged: printed again next time */
        return TOOL_EXIT_FAILURE;
    }
    rc = aioe_inbox_ack(inbox, aioe_inbox_message_id(m));
    aioe_message_free(m);
    if (rc != AIOE_OK) {
        fprintf(stderr, "aioe-sub: inbox ack: %s\n", aioe_strerror(rc));
        return TOOL_EXIT_FAILURE;
    }
    return 0;
}

static void on_subscribed(aioe_session *s, int status, int reason, void *ud)
{
    (void)s;
    const char *filter = ud;
    if (status == AIOE_OK) {
        fprintf(stderr, "aioe-sub: subscribed to %s (granted QoS %d)\n", filter, reason);
    } else if (reason >= 0x80) {
        fprintf(stderr, "aioe-sub: subscription to %s refused: %s (reason 0x%02x)\n", filter,
                aioe_strerror(status), (unsigned)reason);
        atomic_store(&sub_failed, TOOL_EXIT_INVALID);
    } else if (status == AIOE_ERR_TIMEOUT) {
        fprintf(stderr, "aioe-sub: no SUBACK for %s within the timeout\n", filter);
        atomic_store(&sub_failed, TOOL_EXIT_FAILURE);
    }
}

int main(int argc, char **argv)
{
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    pubsub_common c = {.prog = "aioe-sub"};
    int qos = -1;
    static const struct option longopts[] = {
        {"count", required_argument, NULL, 'C'},
        {"qos", required_argument, NULL, 'q'},
        {"payload-only", no_argument, NULL, 'p'},
        {"inbox", required_argument, NULL, 'I'},
        {"format", required_argument, NULL, 'F'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        PUBSUB_COMMON_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    int o;
    while ((o = getopt_long(argc, argv, "C:q:pI:F:hVv", longopts, NULL)) != -1) {
        if (pubsub_common_option(&c, o, optarg))
            continue;
        switch (o) {
        case 'C': max_count = strtoul(optarg, NULL, 10); break;
        case 'q':
            qos = atoi(optarg);
            if (qos < 0 || qos > 1) {
                fprintf(stderr, "aioe-sub: --qos must be 0 or 1\n");
                return TOOL_EXIT_USAGE;
            }
            break;
        case 'p': payload_only = true; break;
        case 'I': c.inbox_dir = optarg; break;
        case 'F': format = optarg; break;
        case 'h': usage(stdout); return TOOL_EXIT_OK;
        case 'V': return tool_print_version("aioe-sub");
        default: usage(stderr); return TOOL_EXIT_USAGE;
        }
    }
    int first = optind + (c.from_env ? 0 : 1); /* the first filter */
    if (argc - first < 1) {
        usage(stderr);
        return TOOL_EXIT_USAGE;
    }
    if (c.inbox_dir && !c.instance) {
        fprintf(stderr, "aioe-sub: --inbox needs --instance NAME: a stable client ID keeps the "
                        "broker session across restarts\n");
        return TOOL_EXIT_USAGE;
    }
    if (!c.from_env)
        c.file = argv[optind];
    for (int i = first; i < argc; i++) {
        if (!aioe_topic_filter_is_valid(argv[i])) {
            fprintf(stderr, "aioe-sub: '%s' is not a valid MQTT topic filter\n", argv[i]);
            return TOOL_EXIT_USAGE;
        }
    }
    int status = pubsub_load(&c);
    if (status == 0) {
        if (qos < 0)
            qos = aioe_endpoint_qos(c.ep);
        status = pubsub_connect(&c, c.inbox_dir ? NULL : on_message, NULL);
    }
    for (int i = first; status == 0 && i < argc; i++) {
        int rc = aioe_session_subscribe(c.session, argv[i], qos, on_subscribed, argv[i]);
        if (rc != AIOE_OK) {
            fprintf(stderr, "aioe-sub: subscribe %s: %s\n", argv[i], aioe_strerror(rc));
            status = tool_exit_for(rc);
        }
    }
    while (status == 0) {
        struct timespec tick = {0, c.inbox ? 0 : 20 * 1000000L};
        if (c.inbox && drain_inbox(c.inbox) != 0)
            status = TOOL_EXIT_FAILURE;
        int sig = sigtimedwait(&sigs, NULL, &tick);
        if (sig == SIGINT || sig == SIGTERM)
            break;
        if (max_count && atomic_load(&received) >= max_count)
            break;
        if (atomic_load(&sub_failed))
            status = atomic_load(&sub_failed);
        pthread_mutex_lock(&c.mu);
        bool stopped = c.stopped;
        pthread_mutex_unlock(&c.mu);
        if (stopped) {
            fprintf(stderr, "aioe-sub: session stopped: %s\n", c.stop_why);
            status = TOOL_EXIT_FAILURE;
        }
    }
    pubsub_close(&c);
    return status;
}
