/* aioe-pub: publishes through a DataflowEndpoint (any authentication
 * method), to try an endpoint file before deploying it.
 *
 *   aioe-pub [options] ENDPOINT.yaml TOPIC [-m MESSAGE | -l | -f FILE]
 *   aioe-pub [options] --from-env TOPIC ...
 *
 * Messages go through the library's message builder, so MQTT v5
 * properties (content type, user properties, response topic, correlation
 * data, message expiry) can be set, and the endpoint's CloudEvents stage
 * runs. A will message can be given for the session.
 *
 * Exit status (examples/common/tool.h): 0 every message acknowledged,
 * 1 bad YAML or a publish the library or the broker refused, 2 usage,
 * 3 an endpoint that cannot authenticate/connect, a publish lost with the
 * connection, a file that cannot be read. Built only against the public
 * API. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/tool.h"
#include "pubsub-common.h"

typedef struct pub_state {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned long done, failed;
    int last_status, last_reason;
    bool refused; /* a completion carried a failure reason code (>= 0x80) */
} pub_state;

static void usage(FILE *to)
{
    fprintf(to,
        "usage: aioe-pub [options] ENDPOINT.yaml TOPIC\n"
        "       aioe-pub [options] --from-env TOPIC\n"
        "Publishes through the endpoint's session (TLS, authentication, QoS from\n"
        "the spec; the endpoint's cloudEventAttributes stage runs) and waits for\n"
        "every acknowledgement.\n"
        "  -m, --message TEXT   the payload (default: empty)\n"
        "  -l, --lines          one message per line of standard input\n"
        "  -f, --file FILE      the payload is FILE's contents\n"
        "  -n, --count N        publish N times (default 1)\n"
        "  -q, --qos N          0 or 1 (default: the endpoint's qos)\n"
        "  -r, --retain         set the RETAIN flag\n"
        "  --content-type TYPE  MQTT v5 Content Type\n"
        "  --user-property KEY=VALUE  a user property (repeatable, order kept)\n"
        "  --response-topic T   Response Topic\n"
        "  --correlation-data D Correlation Data (the bytes of D)\n"
        "  --message-expiry SEC Message Expiry Interval\n"
        "  --will-topic T       will message topic (published by the broker if\n"
        "                       this process dies without disconnecting)\n"
        "  --will-message TEXT  will payload (default empty)\n"
        "  --will-qos N         will QoS 0 or 1 (default: the endpoint's qos)\n"
        "  --will-retain        will RETAIN flag\n"
        "  --will-delay SEC     Will Delay Interval (default 0)\n"
        PUBSUB_COMMON_USAGE
        TOOL_HELP_TRAILER
        "(1: invalid endpoint file or AIO_* variable, or a publish refused;\n"
        "3: cannot read a file, cannot connect or authenticate, or a publish\n"
        "lost with the connection.)\n");
}

static void on_published(aioe_session *s, int status, int reason, void *ud)
{
    (void)s;
    pub_state *p = ud;
    pthread_mutex_lock(&p->mu);
    p->done++;
    if (status != AIOE_OK) {
        p->failed++;
        p->last_status = status;
        p->last_reason = reason;
        if (reason >= 0x80)
            p->refused = true;
    }
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

/* Publishes the builder's message with this payload, waiting for room in
 * the window. */
static int publish_one(pubsub_common *c, pub_state *p, aioe_message_builder *b,
                       const char *topic, const void *data, size_t len,
                       unsigned long *sent)
{
    aioe_message_builder_set_payload(b, data, len);
    for (;;) {
        pthread_mutex_lock(&p->mu);
        unsigned long seen = p->done;
        pthread_mutex_unlock(&p->mu);
        int rc = aioe_session_publish_message(c->session, b, on_published, p);
        if (rc == AIOE_OK) {
            (*sent)++;
            return 0;
        }
        if (rc != AIOE_ERR_WOULD_BLOCK) {
            fprintf(stderr, "aioe-pub: publish to '%s' failed: %s\n", topic, aioe_strerror(rc));
            return tool_exit_for(rc);
        }
        pthread_mutex_lock(&p->mu);
        struct timespec dl;
        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_sec += 1;
        while (p->done == seen)
            if (pthread_cond_timedwait(&p->cv, &p->mu, &dl) == ETIMEDOUT)
                break;
        pthread_mutex_unlock(&p->mu);
    }
}

enum {
    OPT_CONTENT_TYPE = 256, OPT_USER_PROPERTY, OPT_RESPONSE_TOPIC,
    OPT_CORRELATION, OPT_EXPIRY, OPT_WILL_TOPIC, OPT_WILL_MESSAGE, OPT_WILL_QOS,
    OPT_WILL_RETAIN, OPT_WILL_DELAY,
};

#define MAX_USER_PROPERTIES 64

/* A whole unsigned number in [0, max]; false otherwise. */
static bool parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (!*s || *end || errno || s[0] == '-' || v > max)
        return false;
    *out = v;
    return true;
}

typedef struct pub_props {
    const char *content_type, *response_topic, *correlation;
    bool has_expiry;
    unsigned long expiry;
    const char *up[MAX_USER_PROPERTIES];
    size_t n_up;
    const char *will_topic, *will_message;
    int will_qos;
    bool will_retain;
    unsigned long will_delay;
} pub_props;

/* Applies the properties to a builder; 0 or 2 with a message. */
static int fill_builder(aioe_message_builder *b, const pub_props *pp)
{
    int rc = AIOE_OK;
    if (pp->content_type)
        rc = aioe_message_builder_set_content_type(b, pp->content_type,
                                                   strlen(pp->content_type));
    for (size_t i = 0; rc == AIOE_OK && i < pp->n_up; i++) {
        const char *eq = strchr(pp->up[i], '=');
        rc = aioe_message_builder_add_user_property(b, pp->up[i], (size_t)(eq - pp->up[i]),
                                                    eq + 1, strlen(eq + 1));
    }
    if (rc == AIOE_OK && pp->response_topic)
        rc = aioe_message_builder_set_response_topic(b, pp->response_topic,
                                                     strlen(pp->response_topic));
    if (rc == AIOE_OK && pp->correlation)
        rc = aioe_message_builder_set_correlation_data(b, pp->correlation,
                                                       strlen(pp->correlation));
    if (rc == AIOE_OK && pp->has_expiry)
        rc = aioe_message_builder_set_message_expiry(b, (uint32_t)pp->expiry);
    if (rc != AIOE_OK) {
        fprintf(stderr, "aioe-pub: invalid message property: %s\n", aioe_strerror(rc));
        return tool_exit_for(rc);
    }
    return 0;
}

int main(int argc, char **argv)
{
    pubsub_common c = {.prog = "aioe-pub"};
    const char *message = "", *file = NULL;
    bool lines = false, retain = false;
    unsigned long count = 1, num;
    int qos = -1;
    pub_props pp = {.will_qos = -1};
    static const struct option longopts[] = {
        {"content-type", required_argument, NULL, OPT_CONTENT_TYPE},
        {"user-property", required_argument, NULL, OPT_USER_PROPERTY},
        {"response-topic", required_argument, NULL, OPT_RESPONSE_TOPIC},
        {"correlation-data", required_argument, NULL, OPT_CORRELATION},
        {"message-expiry", required_argument, NULL, OPT_EXPIRY},
        {"will-topic", required_argument, NULL, OPT_WILL_TOPIC},
        {"will-message", required_argument, NULL, OPT_WILL_MESSAGE},
        {"will-qos", required_argument, NULL, OPT_WILL_QOS},
        {"will-retain", no_argument, NULL, OPT_WILL_RETAIN},
        {"will-delay", required_argument, NULL, OPT_WILL_DELAY},
        {"message", required_argument, NULL, 'm'},
        {"lines", no_argument, NULL, 'l'},
        {"file", required_argument, NULL, 'f'},
        {"count", required_argument, NULL, 'n'},
        {"qos", required_argument, NULL, 'q'},
        {"retain", no_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        PUBSUB_COMMON_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    int o;
    while ((o = getopt_long(argc, argv, "m:lf:n:q:rhVv", longopts, NULL)) != -1) {
        if (pubsub_common_option(&c, o, optarg))
            continue;
        switch (o) {
        case 'm': message = optarg; break;
        case 'l': lines = true; break;
        case 'f': file = optarg; break;
        case 'n': count = strtoul(optarg, NULL, 10); break;
        case 'q':
            qos = atoi(optarg);
            if (qos < 0 || qos > 1) {
                fprintf(stderr, "aioe-pub: --qos must be 0 or 1\n");
                return TOOL_EXIT_USAGE;
            }
            break;
        case 'r': retain = true; break;
        case OPT_CONTENT_TYPE: pp.content_type = optarg; break;
        case OPT_USER_PROPERTY:
            if (!strchr(optarg, '=') || optarg[0] == '=' || pp.n_up == MAX_USER_PROPERTIES) {
                fprintf(stderr, "aioe-pub: --user-property takes KEY=VALUE (at most %d)\n",
                        MAX_USER_PROPERTIES);
                return TOOL_EXIT_USAGE;
            }
            pp.up[pp.n_up++] = optarg;
            break;
        case OPT_RESPONSE_TOPIC: pp.response_topic = optarg; break;
        case OPT_CORRELATION: pp.correlation = optarg; break;
        case OPT_EXPIRY:
            if (!parse_uint(optarg, UINT32_MAX, &pp.expiry)) {
                fprintf(stderr, "aioe-pub: --message-expiry takes seconds, 0..4294967295\n");
                return TOOL_EXIT_USAGE;
            }
            pp.has_expiry = true;
            break;
        case OPT_WILL_TOPIC: pp.will_topic = optarg; break;
        case OPT_WILL_MESSAGE: pp.will_message = optarg; break;
        case OPT_WILL_QOS:
            if (!parse_uint(optarg, 1, &num)) {
                fprintf(stderr, "aioe-pub: --will-qos must be 0 or 1\n");
                return TOOL_EXIT_USAGE;
            }
            pp.will_qos = (int)num;
            break;
        case OPT_WILL_RETAIN: pp.will_retain = true; break;
        case OPT_WILL_DELAY:
            if (!parse_uint(optarg, UINT32_MAX, &pp.will_delay)) {
                fprintf(stderr, "aioe-pub: --will-delay takes seconds, 0..4294967295\n");
                return TOOL_EXIT_USAGE;
            }
            break;
        case 'h': usage(stdout); return TOOL_EXIT_OK;
        case 'V': return tool_print_version("aioe-pub");
        default: usage(stderr); return TOOL_EXIT_USAGE;
        }
    }
    if (argc - optind != (c.from_env ? 1 : 2)) {
        usage(stderr);
        return TOOL_EXIT_USAGE;
    }
    if (!c.from_env)
        c.file = argv[optind];
    const char *topic = argv[argc - 1];
    if (!pp.will_topic && (pp.will_message || pp.will_qos >= 0 || pp.will_retain ||
                           pp.will_delay)) {
        fprintf(stderr, "aioe-pub: the --will-* options need --will-topic\n");
        return TOOL_EXIT_USAGE;
    }
    int status = pubsub_load(&c);
    if (status) {
        pubsub_close(&c);
        return status;
    }
    if (qos < 0)
        qos = aioe_endpoint_qos(c.ep);
    aioe_message_builder *b = NULL;
    if (aioe_message_builder_new(&b) != AIOE_OK ||
        aioe_message_builder_set_topic(b, topic, strlen(topic)) != AIOE_OK) {
        fprintf(stderr, "aioe-pub: '%s' is not a valid topic name\n", topic);
        aioe_message_builder_free(b);
        pubsub_close(&c);
        return TOOL_EXIT_INVALID;
    }
    aioe_message_builder_set_qos(b, qos);
    aioe_message_builder_set_retain(b, retain);
    status = fill_builder(b, &pp);
    if (status == 0 && pp.will_topic) {
        aioe_message_builder *w = NULL;
        const char *wm = pp.will_message ? pp.will_message : "";
        int rc = aioe_message_builder_new(&w);
        if (rc == AIOE_OK)
            rc = aioe_message_builder_set_topic(w, pp.will_topic, strlen(pp.will_topic));
        if (rc == AIOE_OK)
            rc = aioe_message_builder_set_payload(w, wm, strlen(wm));
        if (rc == AIOE_OK && pp.will_qos >= 0)
            rc = aioe_message_builder_set_qos(w, pp.will_qos);
        if (rc == AIOE_OK)
            rc = aioe_message_builder_set_retain(w, pp.will_retain);
        aioe_session_options *so = pubsub_options(&c);
        if (rc == AIOE_OK)
            rc = so ? aioe_session_options_set_will(so, w, (uint32_t)pp.will_delay)
                    : AIOE_ERR_NOMEM;
        aioe_message_builder_free(w);
        if (rc != AIOE_OK) {
            fprintf(stderr, "aioe-pub: --will-topic '%s': %s\n", pp.will_topic,
                    aioe_strerror(rc));
            status = tool_exit_for(rc);
        }
    }
    if (status) {
        aioe_message_builder_free(b);
        pubsub_close(&c);
        return status;
    }

    char *fdata = NULL;
    size_t flen = 0;
    if (file) {
        FILE *f = fopen(file, "rb");
        if (!f) {
            fprintf(stderr, "aioe-pub: %s: %s\n", file, strerror(errno));
            pubsub_close(&c);
            return TOOL_EXIT_FAILURE;
        }
        size_t cap = 0;
        for (;;) {
            if (flen == cap) {
                cap = cap ? cap * 2 : 65536;
                char *n = realloc(fdata, cap);
                if (!n)
                    break;
                fdata = n;
            }
            size_t r = fread(fdata + flen, 1, cap - flen, f);
            if (r == 0)
                break;
            flen += r;
        }
        fclose(f);
    }

    status = pubsub_connect(&c, NULL, NULL);
    pub_state p = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    unsigned long sent = 0;
    if (status == 0) {
        if (lines) {
            char *line = NULL;
            size_t cap = 0;
            ssize_t n;
            while (status == 0 && (n = getline(&line, &cap, stdin)) >= 0) {
                if (n > 0 && line[n - 1] == '\n')
                    line[--n] = 0;
                status = publish_one(&c, &p, b, topic, line, (size_t)n, &sent);
            }
            free(line);
        } else {
            for (unsigned long i = 0; i < count && status == 0; i++)
                status = publish_one(&c, &p, b, topic, file ? fdata : message,
                                     file ? flen : strlen(message), &sent);
        }
        /* every accepted publish completes exactly once */
        pthread_mutex_lock(&p.mu);
        while (p.done < sent)
            pthread_cond_wait(&p.cv, &p.mu);
        pthread_mutex_unlock(&p.mu);
        if (p.failed) {
            fprintf(stderr, "aioe-pub: %lu of %lu publishes failed (last: %s, reason %d)\n",
                    p.failed, sent, aioe_strerror(p.last_status), p.last_reason);
            status = p.refused ? TOOL_EXIT_INVALID : TOOL_EXIT_FAILURE;
        } else if (c.verbose) {
            fprintf(stderr, "aioe-pub: %lu message(s) acknowledged\n", sent);
        }
    }
    free(fdata);
    pubsub_close(&c);
    aioe_message_builder_free(b);
    return status;
}
