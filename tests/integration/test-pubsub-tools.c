/* aioe-pub and aioe-sub (issue #17 §5) against a real broker: --from-env,
 * the message properties through the builder, -F formats including JSON
 * lines, a will published when aioe-pub is SIGKILLed, errors naming the
 * bad variable, and no stale "not there yet" in --help. */
#define _GNU_SOURCE
#include "harness.h"

#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#define WAIT_MS 8000

typedef struct proc {
    pid_t pid;
    int stdin_fd;   /* write end, -1 when closed */
    char *out, *err;
} proc;

/* Runs prog with args under env (NULL-terminated "K=V" strings added to a
 * clean environment with PATH), stdout and stderr to files. */
static proc spawn(const char *prog, const char *const *args, const char *const *env)
{
    static int n;
    proc p = { .stdin_fd = -1 };
    char name[64];
    snprintf(name, sizeof name, "tool-%d.out", n);
    p.out = harness_path(name);
    snprintf(name, sizeof name, "tool-%d.err", n++);
    p.err = harness_path(name);
    int in[2];
    assert_int_equal(pipe(in), 0);
    const char *argv[32] = { prog };
    size_t a = 1;
    for (; args[a - 1] && a < 31; a++)
        argv[a] = args[a - 1];
    argv[a] = NULL;
    const char *envp[32];
    size_t e = 0;
    envp[e++] = "PATH=/usr/bin:/bin";
    for (; env && env[e - 1] && e < 31; e++)
        envp[e] = env[e - 1];
    envp[e] = NULL;
    fflush(NULL);
    p.pid = fork();
    assert_true(p.pid >= 0);
    if (p.pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(in[0], 0);
        int o = open(p.out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int r = open(p.err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(o, 1);
        dup2(r, 2);
        close(in[1]);
        execve(prog, (char *const *)argv, (char *const *)envp);
        _exit(127);
    }
    close(in[0]);
    p.stdin_fd = in[1];
    return p;
}

typedef struct reap {
    pid_t pid;
    int status;
} reap;

static bool reaped(void *arg)
{
    reap *r = arg;
    return waitpid(r->pid, &r->status, WNOHANG) == r->pid;
}

static int wait_exit(proc *p)
{
    if (p->stdin_fd >= 0)
        close(p->stdin_fd);
    p->stdin_fd = -1;
    reap r = { p->pid, 0 };
    if (!harness_wait_until(reaped, &r, WAIT_MS)) {
        kill(p->pid, SIGKILL);
        waitpid(p->pid, &r.status, 0);
        fail_msg("tool did not exit in time");
    }
    return WIFEXITED(r.status) ? WEXITSTATUS(r.status) : 128 + WTERMSIG(r.status);
}

typedef struct file_needle {
    const char *path, *needle;
} file_needle;

static bool file_has(void *arg)
{
    const file_needle *f = arg;
    char *t = harness_read_file(f->path, NULL);
    bool yes = t && strstr(t, f->needle);
    free(t);
    return yes;
}

static bool wait_file(const char *path, const char *needle)
{
    file_needle f = { path, needle };
    return harness_wait_until(file_has, &f, WAIT_MS);
}

static void proc_free(proc *p)
{
    free(p->out);
    free(p->err);
}

static void from_env_properties_and_formats(void **state)
{
    (void)state;
    const char *pub = getenv("AIOE_PUB"), *sub = getenv("AIOE_SUB");
    assert_non_null(pub);
    assert_non_null(sub);
    broker_config cfg;
    broker_config_init(&cfg);
    broker *b;
    assert_int_equal(broker_start(&cfg, &b), 0);
    char port[48];
    snprintf(port, sizeof port, "AIO_BROKER_TCP_PORT=%d", broker_port(b, 0));
    const char *env_sub[] = { "AIO_BROKER_HOSTNAME=127.0.0.1", port, "AIO_MQTT_USE_TLS=false",
                              "AIO_MQTT_CLIENT_ID=tools-sub-json", NULL };
    const char *env_sub2[] = { "AIO_BROKER_HOSTNAME=127.0.0.1", port, "AIO_MQTT_USE_TLS=false",
                               "AIO_MQTT_CLIENT_ID=tools-sub-fmt", NULL };
    const char *env_pub[] = { "AIO_BROKER_HOSTNAME=127.0.0.1", port, "AIO_MQTT_USE_TLS=false",
                              "AIO_MQTT_CLIENT_ID=tools-pub", NULL };
    const char *sargs[] = { "--from-env", "-C", "1", "-F", "%j", "tools/#", NULL };
    proc s1 = spawn(sub, sargs, env_sub);
    const char *sargs2[] = { "--from-env", "-C", "1", "-F",
                             "%t|%p|%C|%U|%R|%D|%E|%q|%r|%l|%%", "tools/#", NULL };
    proc s2 = spawn(sub, sargs2, env_sub2);
    assert_true(wait_file(s1.err, "subscribed to tools/#"));
    assert_true(wait_file(s2.err, "subscribed to tools/#"));
    assert_true(broker_log_contains(b, "tools-sub-json"));

    const char *pargs[] = { "--from-env", "-m", "hello \"json\"", "--content-type",
                            "text/plain", "--user-property", "a=1", "--user-property",
                            "b=x=y", "--response-topic", "reply/here", "--correlation-data",
                            "cid-7", "--message-expiry", "600", "tools/x", NULL };
    proc p = spawn(pub, pargs, env_pub);
    assert_int_equal(wait_exit(&p), 0);
    assert_int_equal(wait_exit(&s1), 0);
    assert_int_equal(wait_exit(&s2), 0);
    char *j = harness_read_file(s1.out, NULL);
    print_message("%s", j);
    assert_non_null(strstr(j, "{\"topic\":\"tools/x\",\"qos\":1,\"retain\":false,"
                              "\"payloadlen\":12,\"payload\":\"hello \\\"json\\\"\","
                              "\"content_type\":\"text/plain\","
                              "\"response_topic\":\"reply/here\","
                              "\"correlation_data_base64\":\"Y2lkLTc=\","));
    assert_non_null(strstr(j, "\"user_properties\":[{\"name\":\"a\",\"value\":\"1\"},"
                              "{\"name\":\"b\",\"value\":\"x=y\"}]}"));
    char *f = harness_read_file(s2.out, NULL);
    print_message("%s", f);
    assert_non_null(strstr(f, "tools/x|hello \"json\"|text/plain|a=1,b=x=y|reply/here|"
                              "cid-7|"));
    assert_non_null(strstr(f, "|1|0|12|%\n"));
    free(j);
    free(f);
    proc_free(&p);
    proc_free(&s1);
    proc_free(&s2);
    broker_free(b);
}

static void will_on_sigkill_and_env_errors(void **state)
{
    (void)state;
    const char *pub = getenv("AIOE_PUB");
    broker_config cfg;
    broker_config_init(&cfg);
    broker *b;
    assert_int_equal(broker_start(&cfg, &b), 0);
    observer *obs;
    assert_int_equal(observer_start(b, 0, "wills/#", 1, &obs), 0);
    char port[48];
    snprintf(port, sizeof port, "AIO_BROKER_TCP_PORT=%d", broker_port(b, 0));
    const char *env[] = { "AIO_BROKER_HOSTNAME=127.0.0.1", port, "AIO_MQTT_USE_TLS=false",
                          "AIO_MQTT_CLIENT_ID=tools-will", NULL };
    /* -l: connected and waiting for lines on stdin until killed */
    const char *args[] = { "--from-env", "-v", "-l", "--will-topic", "wills/engine",
                           "--will-message", "gone", "--will-qos", "1", "tools/lines", NULL };
    proc p = spawn(pub, args, env);
    assert_true(broker_wait_client(b, "tools-will", 1, WAIT_MS));
    assert_int_equal(observer_count(obs), 0);
    kill(p.pid, SIGKILL);
    assert_int_equal(wait_exit(&p), 128 + SIGKILL);
    assert_int_equal(observer_wait(obs, 1, WAIT_MS), 1);
    assert_string_equal(observer_get(obs, 0)->topic, "wills/engine");
    assert_string_equal((const char *)observer_get(obs, 0)->payload, "gone");
    proc_free(&p);

    /* a bad variable: exit 1 (invalid input), the variable named on stderr */
    const char *bad_env[] = { "AIO_BROKER_HOSTNAME=127.0.0.1", "AIO_BROKER_TCP_PORT=99999",
                              "AIO_MQTT_CLIENT_ID=x", NULL };
    const char *bargs[] = { "--from-env", "-m", "x", "tools/x", NULL };
    p = spawn(pub, bargs, bad_env);
    assert_int_equal(wait_exit(&p), 1);
    assert_true(wait_file(p.err, "AIO_BROKER_TCP_PORT=99999 is out of range"));
    proc_free(&p);

    /* --help is current */
    const char *hargs[] = { "--help", NULL };
    p = spawn(pub, hargs, NULL);
    assert_int_equal(wait_exit(&p), 0);
    char *help = harness_read_file(p.out, NULL);
    assert_null(strstr(help, "not there yet"));
    assert_non_null(strstr(help, "--user-property"));
    assert_non_null(strstr(help, "--from-env"));
    free(help);
    proc_free(&p);
    observer_free(obs);
    broker_free(b);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(from_env_properties_and_formats),
        cmocka_unit_test(will_on_sigkill_and_env_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
