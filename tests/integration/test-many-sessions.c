/* Many sessions in one process (Paho's one send and one receive thread
 * serve all of them): 200 sessions against one mosquitto, each subscribed
 * to its own topic and publishing QoS 1 to its neighbour's. Every session
 * must get exactly its neighbour's messages (no cross-talk, no loss, no
 * duplicates), every publish must complete once, and nothing may deadlock;
 * then all stop concurrently from several threads. */
#include "session-fixture.h"

#include <sys/resource.h>

#define N_SESSIONS 200
#define N_MSGS 20

typedef struct peer {
    aioe_session *s;
    int index;
    pthread_mutex_t mu;
    bool connected;
    int subscribed;
    int sub_status;
    int pub_done, pub_ok;
    int received;
    int foreign;           /* messages not from the expected sender / topic */
    unsigned char seen[N_MSGS];
    int dups;
} peer;

static peer peers[N_SESSIONS];

static void on_state(aioe_session *s, const aioe_session_event *e, void *ud)
{
    peer *p = ud;
    (void)s;
    pthread_mutex_lock(&p->mu);
    if (e->state == AIOE_SESSION_CONNECTED)
        p->connected = true;
    pthread_mutex_unlock(&p->mu);
}

static void on_message(aioe_session *s, const aioe_message *m, void *ud)
{
    peer *p = ud;
    (void)s;
    size_t tl, pl;
    const char *t = aioe_message_topic(m, &tl);
    const char *pay = aioe_message_payload(m, &pl);
    char want_topic[64], buf[64];
    snprintf(want_topic, sizeof want_topic, "many/%d/in", p->index);
    int from = -1, seq = -1;
    if (pl < sizeof buf) {
        memcpy(buf, pay, pl);
        buf[pl] = '\0';
        if (sscanf(buf, "%d:%d", &from, &seq) != 2)
            from = -1;
    }
    int expect_from = (p->index + N_SESSIONS - 1) % N_SESSIONS;
    pthread_mutex_lock(&p->mu);
    p->received++;
    if (tl != strlen(want_topic) || memcmp(t, want_topic, tl) != 0 || from != expect_from ||
        seq < 0 || seq >= N_MSGS)
        p->foreign++;
    else if (p->seen[seq]++)
        p->dups++;
    pthread_mutex_unlock(&p->mu);
}

static void on_sub(aioe_session *s, int status, int reason, void *ud)
{
    peer *p = ud;
    (void)s;
    (void)reason;
    pthread_mutex_lock(&p->mu);
    p->subscribed++;
    p->sub_status = status;
    pthread_mutex_unlock(&p->mu);
}

static void on_pub(aioe_session *s, int status, int reason, void *ud)
{
    peer *p = ud;
    (void)s;
    (void)reason;
    pthread_mutex_lock(&p->mu);
    p->pub_done++;
    if (status == AIOE_OK)
        p->pub_ok++;
    pthread_mutex_unlock(&p->mu);
}

typedef enum what { W_CONNECTED, W_SUBSCRIBED, W_PUBLISHED, W_RECEIVED } what;

static bool all(void *arg)
{
    what w = *(what *)arg;
    for (int i = 0; i < N_SESSIONS; i++) {
        peer *p = &peers[i];
        pthread_mutex_lock(&p->mu);
        bool ok = w == W_CONNECTED    ? p->connected
                : w == W_SUBSCRIBED   ? p->subscribed >= 1
                : w == W_PUBLISHED    ? p->pub_done >= N_MSGS
                                      : p->received >= N_MSGS;
        pthread_mutex_unlock(&p->mu);
        if (!ok)
            return false;
    }
    return true;
}

static void *stop_range(void *arg)
{
    int first = (int)(intptr_t)arg;
    for (int i = first; i < N_SESSIONS; i += 4)
        aioe_session_stop(peers[i].s, 2000);
    return NULL;
}

static void test_two_hundred_sessions(void **state)
{
    (void)state;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4096) {
        rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    broker_config cfg;
    broker *b;
    broker_config_init(&cfg);
    cfg.log_types = "error warning";
    cfg.extra_conf = "max_connections -1\n";
    assert_int_equal(broker_start(&cfg, &b), 0);
    aioe_parse_result *res = fx_endpoint("    host: localhost:%d\n    keepAliveSeconds: 30\n"
                                         AUTH_ANON TLS_OFF, broker_port(b, 0));
    const aioe_endpoint *ep = aioe_parse_result_endpoint(res, 0);

    int64_t t0 = harness_now_ms();
    for (int i = 0; i < N_SESSIONS; i++) {
        peer *p = &peers[i];
        memset(p, 0, sizeof *p);
        p->index = i;
        pthread_mutex_init(&p->mu, NULL);
        aioe_session_options *o;
        assert_int_equal(aioe_session_options_new(&o), AIOE_OK);
        aioe_session_options_set_state_callback(o, on_state, p);
        aioe_session_options_set_message_callback(o, on_message, p);
        aioe_session_options_set_reconnect_backoff(o, 100, 1000);
        aioe_session_options_set_connect_timeout(o, 20000);
        char inst[32];
        snprintf(inst, sizeof inst, "many-%d-%d", (int)getpid(), i);
        assert_int_equal(aioe_session_new(&p->s, ep, inst, o), AIOE_OK);
        aioe_session_options_free(o);
        char topic[64];
        snprintf(topic, sizeof topic, "many/%d/in", i);
        assert_int_equal(aioe_session_start(p->s), AIOE_OK);
        assert_int_equal(aioe_session_subscribe(p->s, topic, 1, on_sub, p), AIOE_OK);
    }
    what w = W_CONNECTED;
    assert_true(harness_wait_until(all, &w, 30000));
    int64_t t_conn = harness_now_ms();
    w = W_SUBSCRIBED;
    assert_true(harness_wait_until(all, &w, 20000));
    for (int i = 0; i < N_SESSIONS; i++)
        assert_int_equal(peers[i].sub_status, AIOE_OK);

    int64_t t_pub = harness_now_ms();
    for (int m = 0; m < N_MSGS; m++)
        for (int i = 0; i < N_SESSIONS; i++) {
            char topic[64], pay[32];
            snprintf(topic, sizeof topic, "many/%d/in", (i + 1) % N_SESSIONS);
            snprintf(pay, sizeof pay, "%d:%d", i, m);
            int rc;
            int64_t deadline = harness_now_ms() + 10000;
            while ((rc = aioe_session_publish(peers[i].s, topic, pay, strlen(pay), 1, false,
                                              on_pub, &peers[i])) == AIOE_ERR_WOULD_BLOCK &&
                   harness_now_ms() < deadline)
                usleep(1000);
            assert_int_equal(rc, AIOE_OK);
        }
    w = W_PUBLISHED;
    assert_true(harness_wait_until(all, &w, 30000));
    w = W_RECEIVED;
    assert_true(harness_wait_until(all, &w, 30000));
    int64_t t_done = harness_now_ms();
    print_message("%d sessions: connected+subscribed in %lld ms; %d QoS 1 messages "
                  "each way in %lld ms\n", N_SESSIONS, (long long)(t_conn - t0),
                  N_SESSIONS * N_MSGS, (long long)(t_done - t_pub));

    for (int i = 0; i < N_SESSIONS; i++) {
        peer *p = &peers[i];
        pthread_mutex_lock(&p->mu);
        int received = p->received, foreign = p->foreign, dups = p->dups;
        int done = p->pub_done, ok = p->pub_ok;
        pthread_mutex_unlock(&p->mu);
        if (received != N_MSGS || foreign || dups || done != N_MSGS || ok != N_MSGS)
            fail_msg("session %d: received %d foreign %d dups %d published %d ok %d", i,
                     received, foreign, dups, done, ok);
    }

    /* stop from four threads at once: no deadlock between sessions */
    int64_t t_stop = harness_now_ms();
    pthread_t th[4];
    for (intptr_t k = 0; k < 4; k++)
        assert_int_equal(pthread_create(&th[k], NULL, stop_range, (void *)k), 0);
    for (int k = 0; k < 4; k++)
        pthread_join(th[k], NULL);
    print_message("stopped %d sessions from 4 threads in %lld ms\n", N_SESSIONS,
                  (long long)(harness_now_ms() - t_stop));
    for (int i = 0; i < N_SESSIONS; i++) {
        assert_int_equal(aioe_session_get_state(peers[i].s), AIOE_SESSION_STOPPED);
        aioe_session_free(peers[i].s);
        pthread_mutex_destroy(&peers[i].mu);
    }
    aioe_parse_result_free(res);
    broker_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_hundred_sessions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
