/*
 * Unit tests of the reactor: cross-thread messages (none lost, per-producer
 * order kept), timers (order, cancel, re-arm), deferred calls, and the rule
 * that a handler removed during a batch is not called afterwards.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "event/reactor.h"

#define PRODUCERS    4
#define PER_PRODUCER 20000

struct producer_msg {
	struct reactor_msg msg;
	unsigned producer;
	unsigned seq;
};

struct msg_state {
	struct reactor *r;
	unsigned last_seq[PRODUCERS];
	bool order_ok;
	unsigned received;
	struct producer_msg *msgs;
};

static struct msg_state *g_state;

static void count_msg(void *arg)
{
	struct producer_msg *m = arg;

	if (m->seq != g_state->last_seq[m->producer] + 1)
		g_state->order_ok = false;
	g_state->last_seq[m->producer] = m->seq;
	if (++g_state->received == PRODUCERS * PER_PRODUCER)
		reactor_stop(g_state->r);
}

struct producer_arg {
	struct msg_state *st;
	unsigned id;
};

static void *producer(void *arg)
{
	struct producer_arg *pa = arg;

	for (unsigned i = 0; i < PER_PRODUCER; i++) {
		struct producer_msg *m =
		    &pa->st->msgs[pa->id * PER_PRODUCER + i];

		m->producer = pa->id;
		m->seq = i + 1;
		m->msg.fn = count_msg;
		m->msg.arg = m;
		reactor_post_msg(pa->st->r, &m->msg);
	}
	return NULL;
}

static void test_messages_cross_thread(void **state)
{
	struct msg_state st = {.order_ok = true};
	pthread_t th[PRODUCERS];
	struct producer_arg pa[PRODUCERS];

	assert_int_equal(reactor_create(&st.r, "test"), 0);
	st.msgs = calloc(PRODUCERS * PER_PRODUCER, sizeof(*st.msgs));
	assert_non_null(st.msgs);
	g_state = &st;
	for (unsigned i = 0; i < PRODUCERS; i++) {
		pa[i] = (struct producer_arg){&st, i};
		pthread_create(&th[i], NULL, producer, &pa[i]);
	}
	assert_int_equal(reactor_run(st.r), 0);
	for (unsigned i = 0; i < PRODUCERS; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(st.received, PRODUCERS * PER_PRODUCER);
	assert_true(st.order_ok);
	free(st.msgs);
	reactor_destroy(st.r);
}

static int fired[8];
static int nfired;
static struct reactor *timer_r;

static void timer_fire(void *arg)
{
	fired[nfired++] = (int)(intptr_t)arg;
	if (nfired == 3)
		reactor_stop(timer_r);
}

static void test_timers_order_and_cancel(void **state)
{
	struct reactor_timer t[4];
	uint64_t start;

	assert_int_equal(reactor_create(&timer_r, "timers"), 0);
	for (int i = 0; i < 4; i++)
		reactor_timer_init(&t[i]);
	nfired = 0;
	reactor_timer_arm(timer_r, &t[0], 30, timer_fire, (void *)30);
	reactor_timer_arm(timer_r, &t[1], 10, timer_fire, (void *)10);
	reactor_timer_arm(timer_r, &t[2], 20, timer_fire, (void *)20);
	reactor_timer_arm(timer_r, &t[3], 15, timer_fire, (void *)15);
	assert_true(reactor_timer_armed(&t[3]));
	reactor_timer_cancel(timer_r, &t[3]);
	assert_false(reactor_timer_armed(&t[3]));
	/* Re-arming moves the timer: 30 becomes 5. */
	reactor_timer_arm(timer_r, &t[0], 5, timer_fire, (void *)5);
	start = reactor_now_ms();
	assert_int_equal(reactor_run(timer_r), 0);
	assert_int_equal(nfired, 3);
	assert_int_equal(fired[0], 5);
	assert_int_equal(fired[1], 10);
	assert_int_equal(fired[2], 20);
	assert_true(reactor_now_ms() - start >= 19);
	reactor_destroy(timer_r);
}

struct batch_state {
	struct reactor *r;
	struct reactor_handler h[2];
	int pipes[2][2];
	int calls[2];
	bool deferred_ran;
	bool deferred_after_io;
};

static struct batch_state *g_batch;

static void deferred(void *arg)
{
	g_batch->deferred_ran = true;
	g_batch->deferred_after_io = g_batch->calls[0] + g_batch->calls[1] > 0;
	reactor_stop(g_batch->r);
}

static void on_readable(void *arg, uint32_t events)
{
	int idx = (int)(intptr_t)arg;
	int other = 1 - idx;

	g_batch->calls[idx]++;
	/* Whichever runs first removes the other, whose event is in the
	 * same batch: it must not be delivered. */
	reactor_remove(g_batch->r, &g_batch->h[other]);
	reactor_remove(g_batch->r, &g_batch->h[idx]);
	reactor_defer(g_batch->r, deferred, NULL);
}

static void test_remove_during_batch(void **state)
{
	struct batch_state b = {0};

	g_batch = &b;
	assert_int_equal(reactor_create(&b.r, "batch"), 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(pipe(b.pipes[i]), 0);
		assert_int_equal(write(b.pipes[i][1], "x", 1), 1);
		assert_int_equal(reactor_add(b.r, &b.h[i], b.pipes[i][0],
					     EPOLLIN, on_readable,
					     (void *)(intptr_t)i),
				 0);
	}
	assert_int_equal(reactor_run(b.r), 0);
	assert_int_equal(b.calls[0] + b.calls[1], 1);
	assert_true(b.deferred_ran);
	assert_true(b.deferred_after_io);
	for (int i = 0; i < 2; i++) {
		close(b.pipes[i][0]);
		close(b.pipes[i][1]);
	}
	reactor_destroy(b.r);
}

static atomic_int pool_hits;

static void pool_msg(void *arg)
{
	atomic_fetch_add(&pool_hits, 1);
}

static void test_pool_round_robin(void **state)
{
	assert_int_equal(reactor_pool_start(3), 0);
	assert_int_equal(reactor_pool_size(), 3);
	struct reactor *a = reactor_pool_next();
	struct reactor *b = reactor_pool_next();
	struct reactor *c = reactor_pool_next();
	struct reactor *d = reactor_pool_next();

	assert_true(a != b && b != c && a != c);
	assert_ptr_equal(a, d);
	for (int i = 0; i < 30; i++)
		assert_int_equal(
		    reactor_post(reactor_pool_next(), pool_msg, NULL), 0);
	/* Bounded wait: 2 s. */
	for (int i = 0; i < 200 && atomic_load(&pool_hits) < 30; i++)
		usleep(10000);
	assert_int_equal(atomic_load(&pool_hits), 30);
	reactor_pool_stop();
	assert_int_equal(reactor_pool_size(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_messages_cross_thread),
	    cmocka_unit_test(test_timers_order_and_cancel),
	    cmocka_unit_test(test_remove_during_batch),
	    cmocka_unit_test(test_pool_round_robin),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
