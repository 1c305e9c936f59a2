/* aioe-bridge: runs Azure IoT Operations Dataflows (MQTT source → MQTT
 * destination) from YAML, losing nothing at QoS 1 (docs/bridge.md).
 *
 *   aioe-bridge [options] FILE.yaml...
 *
 * Exit status (examples/common/tool.h): 0 after SIGINT/SIGTERM and a
 * drain; 1 for invalid input (YAML, unknown endpointRef, missing
 * source/destination, instanceCount refused) or a subscription the source
 * broker refuses; 2 usage; 3 a file or the store that cannot be read or
 * written, an endpoint that cannot authenticate/connect, a session that
 * stops for good, a drain that times out.
 * Built only against the public API of libaioendpoint. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <aioendpoint/aioendpoint.h>

#include "../common/tool.h"
#include "bridge.h"
#include "bridge_http.h"
#include "bridge_log.h"
#include "bridge_notify.h"
#include "bridge_plan.h"
#include "bridge_reload.h"

#define MAX_FILES 256

static void usage(FILE *to)
{
    fprintf(to,
        "usage: aioe-bridge [options] FILE.yaml...\n"
        "Runs every Dataflow in the YAML files (DataflowEndpoint, Dataflow and\n"
        "DataflowProfile documents) until SIGINT/SIGTERM, then drains and exits 0.\n"
        "  --state-dir DIR        durable store root (default ./aioe-bridge-state)\n"
        "  --fsync                fdatasync every stored message (survives power loss)\n"
        "  --max-store-bytes N    store bound per instance, K/M/G suffixes (default 256M)\n"
        "  --segment-bytes N      store segment size (default min(4M, max/8))\n"
        "  --high-water PCT       pause the source at this fill (default 80)\n"
        "  --low-water PCT        resume it at this fill (default 50)\n"
        "  --stats-interval SEC   print counters every SEC seconds (default 0: off)\n"
        "  --drain-timeout SEC    longest drain at exit (default 10)\n"
        "  --dataflow NAME        run only this dataflow (repeatable)\n"
        "  --instance K           run only instance K (0-based) of each dataflow\n"
        "  --resource-dir DIR     secrets/config maps root (AIOE_RESOURCE_DIR)\n"
        "  --token-file FILE      service account token file (AIOE_SAT_TOKEN_FILE)\n"
        "  --reconnect-max-ms N   cap of the reconnect backoff (default 60000)\n"
        "  --log-level LEVEL      error, warning, info (default) or debug\n"
        "  --log-format FORMAT    text (default) or json (one object per line)\n"
        "  --log-file FILE        append the log to FILE (reopened on SIGHUP)\n"
        "  --metrics-addr H:P     serve /metrics (Prometheus), /healthz, /readyz\n"
        "  --check                validate the files and the plan, then exit\n"
        TOOL_HELP_TRAILER
        "(0: a clean stop after SIGINT/SIGTERM; 1: invalid files or plan, or a\n"
        "subscription refused; 3: cannot read a file or the store, cannot\n"
        "connect or authenticate, a session stopped for good, drain timed out.)\n"
        "Counters go to stderr on SIGUSR1, every --stats-interval and at exit.\n"
        "SIGHUP reopens --log-file, reads the YAML files again and applies what\n"
        "changed (an invalid file is refused, the running configuration kept).\n");
}

static int parse_size(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        return -1;
    switch (*end) {
    case 'k': case 'K': v <<= 10; end++; break;
    case 'm': case 'M': v <<= 20; end++; break;
    case 'g': case 'G': v <<= 30; end++; break;
    default: break;
    }
    if (*end == 'i' || *end == 'B')
        end++;
    if (*end == 'B')
        end++;
    if (*end)
        return -1;
    *out = v;
    return 0;
}

/* One "stats LABEL key=value..." log line (info level, so it is a JSON
 * object with --log-format json). */
static void log_stats(const char *label, const bridge_stats *s)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return;
    bridge_stats_print(f, label, s);
    if (fclose(f) != 0) {
        free(text);
        return;
    }
    if (len && text[len - 1] == '\n')
        text[len - 1] = 0;
    const char *prefix = "aioe-bridge: ";
    const char *line = strncmp(text, prefix, strlen(prefix)) ? text : text + strlen(prefix);
    bridge_log_line(AIOE_LOG_INFO, NULL, line);
    free(text);
}

static void print_all_stats(bridge_instance **inst, size_t n)
{
    bridge_stats total = {0};
    for (size_t i = 0; i < n; i++) {
        bridge_stats s;
        bridge_instance_stats(inst[i], &s);
        char label[300];
        snprintf(label, sizeof label, "instance=%s", bridge_instance_name(inst[i]));
        log_stats(label, &s);
        bridge_stats_add(&total, &s);
    }
    if (n > 1)
        log_stats("total", &total);
}

/* The watchdog's health check: every instance answers a snapshot, which
 * takes each lock its forwarding path uses (the pump's mutex, the store's,
 * both sessions'); a wedged instance blocks here and the pings stop. Any
 * instance stopped for good ends the main loop before this. */
static bool bridge_healthy(bridge_running *run)
{
    for (size_t i = 0; i < run->n; i++) {
        bridge_stats st;
        bridge_instance_stats(run->inst[i], &st);
        if (bridge_instance_fatal(run->inst[i], NULL, 0))
            return false;
    }
    return true;
}

static bool all_connected(bridge_running *run)
{
    for (size_t i = 0; i < run->n; i++)
        if (!bridge_instance_connected(run->inst[i]))
            return false;
    return true;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* While a SIGHUP drains a changed dataflow: the reload is making progress
 * on this thread, so the watchdog is fed without the health check (which
 * would look at instances being taken apart). */
static void reload_tick(void)
{
    int64_t now = now_ms();
    if (bridge_notify_watchdog_due(now))
        bridge_notify_watchdog_ping(now);
}

int main(int argc, char **argv)
{
    /* Signals are taken with sigtimedwait() on this thread only: block them
     * before any library call creates a thread. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGUSR1);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stderr, NULL, _IOLBF, 0);

    bridge_options opts = {
        .state_dir = "aioe-bridge-state",
        .max_store_bytes = UINT64_C(256) << 20,
        .high_water_pct = 80,
        .low_water_pct = 50,
        .log_level = AIOE_LOG_INFO,
    };
    unsigned stats_interval = 0, drain_timeout = 10;
    long only_instance = -1;
    const char *only_df[64];
    size_t n_only_df = 0;
    bool check_only = false;
    const char *metrics_addr = NULL;
    const char *log_file = NULL;

    static const struct option longopts[] = {
        {"state-dir", required_argument, NULL, 's'},
        {"fsync", no_argument, NULL, 'f'},
        {"max-store-bytes", required_argument, NULL, 'm'},
        {"segment-bytes", required_argument, NULL, 'g'},
        {"high-water", required_argument, NULL, 'H'},
        {"low-water", required_argument, NULL, 'L'},
        {"stats-interval", required_argument, NULL, 'i'},
        {"drain-timeout", required_argument, NULL, 'd'},
        {"dataflow", required_argument, NULL, 'D'},
        {"instance", required_argument, NULL, 'I'},
        {"resource-dir", required_argument, NULL, 'r'},
        {"token-file", required_argument, NULL, 't'},
        {"reconnect-max-ms", required_argument, NULL, 'R'},
        {"log-level", required_argument, NULL, 'l'},
        {"log-format", required_argument, NULL, 'F'},
        {"metrics-addr", required_argument, NULL, 'M'},
        {"log-file", required_argument, NULL, 'O'},
        {"check", no_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "hV", longopts, NULL)) != -1) {
        uint64_t v;
        switch (c) {
        case 's': opts.state_dir = optarg; break;
        case 'f': opts.fsync = true; break;
        case 'm':
            if (parse_size(optarg, &opts.max_store_bytes) != 0 || opts.max_store_bytes < 65536) {
                fprintf(stderr, "aioe-bridge: --max-store-bytes: need a size of at least 64K\n");
                return TOOL_EXIT_USAGE;
            }
            break;
        case 'g':
            if (parse_size(optarg, &opts.segment_bytes) != 0 || opts.segment_bytes < 4096) {
                fprintf(stderr, "aioe-bridge: --segment-bytes: need a size of at least 4K\n");
                return TOOL_EXIT_USAGE;
            }
            break;
        case 'H': case 'L': case 'i': case 'd': case 'I': case 'R':
            if (parse_size(optarg, &v) != 0) {
                fprintf(stderr, "aioe-bridge: %s: not a number\n", argv[optind - 1]);
                return TOOL_EXIT_USAGE;
            }
            if (c == 'H') opts.high_water_pct = (unsigned)v;
            if (c == 'L') opts.low_water_pct = (unsigned)v;
            if (c == 'i') stats_interval = (unsigned)v;
            if (c == 'd') drain_timeout = (unsigned)v;
            if (c == 'I') only_instance = (long)v;
            if (c == 'R') opts.reconnect_max_ms = (uint32_t)v;
            break;
        case 'D':
            if (n_only_df < 64)
                only_df[n_only_df++] = optarg;
            break;
        case 'r': opts.resource_dir = optarg; break;
        case 't': opts.token_file = optarg; break;
        case 'l':
            if (!strcmp(optarg, "error")) opts.log_level = AIOE_LOG_ERROR;
            else if (!strcmp(optarg, "warning")) opts.log_level = AIOE_LOG_WARNING;
            else if (!strcmp(optarg, "info")) opts.log_level = AIOE_LOG_INFO;
            else if (!strcmp(optarg, "debug")) opts.log_level = AIOE_LOG_DEBUG;
            else {
                fprintf(stderr, "aioe-bridge: --log-level: error, warning, info or debug\n");
                return TOOL_EXIT_USAGE;
            }
            break;
        case 'F':
            if (!strcmp(optarg, "json") || !strcmp(optarg, "text")) {
                bridge_log_set_json(!strcmp(optarg, "json"));
            } else {
                fprintf(stderr, "aioe-bridge: --log-format: text or json\n");
                return TOOL_EXIT_USAGE;
            }
            break;
        case 'M': metrics_addr = optarg; break;
        case 'O': log_file = optarg; break;
        case 'c': check_only = true; break;
        case 'h': usage(stdout); return TOOL_EXIT_OK;
        case 'V': return tool_print_version("aioe-bridge");
        default: usage(stderr); return TOOL_EXIT_USAGE;
        }
    }
    bridge_log_set_level(opts.log_level);
    if (log_file && bridge_log_file_open(log_file) != 0) {
        fprintf(stderr, "aioe-bridge: --log-file %s: %s\n", log_file, strerror(errno));
        return TOOL_EXIT_FAILURE;
    }
    if (optind >= argc) {
        usage(stderr);
        return TOOL_EXIT_USAGE;
    }
    if (opts.high_water_pct < 1 || opts.high_water_pct > 100 ||
        opts.low_water_pct >= opts.high_water_pct) {
        fprintf(stderr, "aioe-bridge: need 0 <= --low-water < --high-water <= 100\n");
        return TOOL_EXIT_USAGE;
    }
    if (argc - optind > MAX_FILES) {
        fprintf(stderr, "aioe-bridge: at most %d files\n", MAX_FILES);
        return TOOL_EXIT_USAGE;
    }

    /* ---- read every file and plan; any error is fatal ---- */
    bridge_selection sel = {.dataflows = only_df, .ndataflows = n_only_df,
                            .instance = only_instance};
    char *const *files = argv + optind;
    size_t nfiles = (size_t)(argc - optind);
    bridge_config *cfg = NULL;
    size_t nerr = 0;
    int status = bridge_config_load(&cfg, files, nfiles, &sel, false, &nerr);
    if (status != 0 || check_only) {
        for (size_t i = 0; i < cfg->nplan && status == 0; i++)
            printf("dataflow %s: %s -> %s, %u instance(s)\n",
                   aioe_dataflow_name(cfg->plan[i].df), aioe_endpoint_name(cfg->plan[i].src),
                   aioe_endpoint_name(cfg->plan[i].dst), cfg->plan[i].count);
        bridge_config_free(cfg);
        return status;
    }

    /* ---- create and start the instances ---- */
    if (mkdir(opts.state_dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "aioe-bridge: error: cannot create --state-dir %s: %s\n",
                opts.state_dir, strerror(errno));
        bridge_config_free(cfg);
        return TOOL_EXIT_FAILURE;
    }
    bridge_running run = {0};
    char err[1024];
    for (size_t i = 0; i < cfg->nplan && status == 0; i++) {
        for (unsigned k = 0; k < cfg->plan[i].count && status == 0; k++) {
            if (only_instance >= 0 && (unsigned)only_instance != k)
                continue;
            if (bridge_running_start(&run, &opts, &cfg->plan[i], k, err, sizeof err) != 0) {
                fprintf(stderr, "aioe-bridge: error: dataflow '%s' instance %u: %s\n",
                        aioe_dataflow_name(cfg->plan[i].df), k, err);
                status = TOOL_EXIT_FAILURE;
            }
        }
    }
    bridge_http *http = NULL;
    if (status == 0 && metrics_addr) {
        if (bridge_http_start(&http, metrics_addr, run.inst, run.n, err, sizeof err) != 0) {
            bridge_log(AIOE_LOG_ERROR, "%s", err);
            status = TOOL_EXIT_FAILURE;
        } else {
            bridge_log(AIOE_LOG_INFO, "serving /metrics, /healthz, /readyz on %s", metrics_addr);
        }
    }
    if (status == 0)
        bridge_log(AIOE_LOG_INFO, "running %zu instance(s) of %zu dataflow(s); state in %s",
                   run.n, cfg->nplan, opts.state_dir);
    bridge_notify_init();
    bridge_notify_status("connecting %zu instance(s) of %zu dataflow(s)", run.n, cfg->nplan);
    bool ready = false;

    /* ---- run until a signal or a fatal session error ---- */
    int64_t next_stats = stats_interval ? now_ms() + stats_interval * 1000LL : INT64_MAX;
    while (status == 0) {
        struct timespec tick = {0, 50 * 1000000L};
        int sig = sigtimedwait(&sigs, NULL, &tick);
        if (sig == SIGUSR1) {
            print_all_stats(run.inst, run.n);
        } else if (sig == SIGHUP) {
            bridge_notify_reloading();
            if (log_file && bridge_log_file_open(log_file) != 0)
                bridge_log(AIOE_LOG_ERROR, "SIGHUP: cannot reopen --log-file %s: %s; "
                           "logging on where it was", log_file, strerror(errno));
            /* token, CA and certificate files: every session re-reads them
             * now and reconnects only when they changed */
            for (size_t i = 0; i < run.n; i++) {
                aioe_session_reload_credentials(bridge_instance_session(run.inst[i], true));
                aioe_session_reload_credentials(bridge_instance_session(run.inst[i], false));
            }
            bridge_config *next = NULL;
            if (bridge_config_load(&next, files, nfiles, &sel, true, &nerr) != 0) {
                bridge_log(AIOE_LOG_ERROR, "SIGHUP: reload refused: %zu error(s) in the YAML "
                           "files; the running configuration is kept", nerr);
                bridge_config_free(next);
                if (ready)
                    bridge_notify_ready("forwarding: reload refused (%zu error(s)); "
                                        "the running configuration is kept", nerr);
                else
                    bridge_notify_status("connecting: reload refused (%zu error(s))", nerr);
            } else {
                bridge_log(AIOE_LOG_INFO, "SIGHUP: the YAML files are valid; applying them");
                bridge_reload_counts rc;
                status = bridge_reload_apply(&run, next, &opts, &sel, drain_timeout, http,
                                             reload_tick, &rc);
                /* running instances hold references on what they use */
                bridge_config_free(cfg);
                cfg = next;
                bridge_log(status ? AIOE_LOG_ERROR : AIOE_LOG_INFO, "SIGHUP: reload %s: %zu "
                           "unchanged, %zu restarted, %zu added, %zu removed; %zu instance(s) "
                           "running", status ? "failed" : "done", rc.unchanged, rc.restarted,
                           rc.added, rc.removed, run.n);
                if (ready && status == 0)
                    bridge_notify_ready("forwarding: reloaded (%zu unchanged, %zu restarted, "
                                        "%zu added, %zu removed)", rc.unchanged, rc.restarted,
                                        rc.added, rc.removed);
                else if (status == 0)
                    bridge_notify_status("connecting: reloaded (%zu instance(s))", run.n);
            }
        } else if (sig == SIGINT || sig == SIGTERM) {
            bridge_log(AIOE_LOG_INFO, "%s: draining", strsignal(sig));
            break;
        }
        int64_t now = now_ms();
        if (!ready && status == 0 && all_connected(&run)) {
            ready = true;
            bridge_notify_ready("forwarding: %zu instance(s) of %zu dataflow(s) connected",
                                run.n, cfg->nplan);
        }
        if (bridge_notify_watchdog_due(now) && status == 0 && bridge_healthy(&run))
            bridge_notify_watchdog_ping(now);
        for (size_t i = 0; i < run.n && status == 0; i++) {
            char why[512];
            int f = bridge_instance_fatal(run.inst[i], why, sizeof why);
            if (f) {
                bridge_log_line(AIOE_LOG_ERROR, bridge_instance_name(run.inst[i]), why);
                status = f;
                break;
            }
        }
        if (now_ms() >= next_stats) {
            print_all_stats(run.inst, run.n);
            next_stats += stats_interval * 1000LL;
        }
    }

    /* ---- drain: stop taking messages, wait for what is in flight ---- */
    bridge_notify_stopping();
    for (size_t i = 0; i < run.n; i++)
        bridge_instance_stop_source(run.inst[i]);
    if (status == 0) {
        int64_t deadline = now_ms() + drain_timeout * 1000LL;
        for (;;) {
            bool all = true;
            for (size_t i = 0; i < run.n && all; i++)
                all = bridge_instance_drained(run.inst[i]);
            if (all)
                break;
            if (now_ms() >= deadline) {
                bridge_log(AIOE_LOG_ERROR, "drain timed out after %us; what is left stays "
                           "in the store and is sent on the next start", drain_timeout);
                status = TOOL_EXIT_FAILURE;
                break;
            }
            struct timespec ts = {0, 5 * 1000000L};
            int sig = sigtimedwait(&sigs, NULL, &ts);
            if (sig == SIGINT || sig == SIGTERM) {
                bridge_log(AIOE_LOG_WARNING, "second signal: stopping without a full drain; "
                           "the rest stays in the store");
                break;
            }
            if (sig == SIGUSR1)
                print_all_stats(run.inst, run.n);
        }
    }
    print_all_stats(run.inst, run.n);
    bridge_http_stop(http); /* before the instances it reads go */
    bridge_running_free(&run);
    bridge_config_free(cfg);
    if (status == 0)
        bridge_log(AIOE_LOG_INFO, "stopped cleanly");
    return status;
}
