/*
 * The reactor: an epoll loop per thread, a binary heap of timers, a
 * lock-free multi-producer queue of intrusive messages woken through an
 * eventfd, and a list of same-thread deferred calls run after each batch.
 * Also the pool of I/O reactor threads that connections are spread over.
 */
#include "event/reactor.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"

#define REACTOR_MAX_EVENTS 128
#define REACTOR_HEAP_INIT  64

struct reactor_deferred {
	struct reactor_deferred *next;
	reactor_msg_fn fn;
	void *arg;
};

struct reactor {
	char name[16];
	int epfd;
	int wakefd;
	atomic_bool stopping;
	/* Messages: producers push on head (LIFO); the owner takes the whole
	 * stack at once and reverses it to run in posting order. */
	_Atomic(struct reactor_msg *) msg_head;
	struct reactor_deferred *defer_head, *defer_tail;
	/* reactor_defer_msg's queue: intrusive, run with the above. */
	struct reactor_msg *defer_msgs, **defer_msgs_tail;
	void *locals[REACTOR_KEYS];
	struct reactor_timer **heap;
	int heap_len, heap_cap;
	/* Handlers removed during the current batch must not be called. */
	struct epoll_event events[REACTOR_MAX_EVENTS];
	int nevents;
	int cur_event;
};

static __thread struct reactor *reactor_current;
static void (*reactor_key_destroy[REACTOR_KEYS])(void *value);
static atomic_int reactor_nkeys;

uint64_t reactor_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct reactor *reactor_self(void)
{
	return reactor_current;
}

const char *reactor_name(const struct reactor *r)
{
	return r->name;
}

static void reactor_wake(struct reactor *r)
{
	uint64_t one = 1;
	ssize_t n;

	do {
		n = write(r->wakefd, &one, sizeof(one));
	} while (n < 0 && errno == EINTR);
	/* EAGAIN means the counter is already non-zero: a wake is pending. */
}

int reactor_create(struct reactor **out, const char *name)
{
	struct reactor *r = calloc(1, sizeof(*r));
	struct epoll_event ev = {.events = EPOLLIN};

	if (!r)
		return -ENOMEM;
	/* The wake eventfd is told apart from handlers by pointing at r. */
	ev.data.ptr = r;
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->epfd = epoll_create1(EPOLL_CLOEXEC);
	r->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	r->heap = calloc(REACTOR_HEAP_INIT, sizeof(*r->heap));
	r->heap_cap = REACTOR_HEAP_INIT;
	if (r->epfd < 0 || r->wakefd < 0 || !r->heap ||
	    epoll_ctl(r->epfd, EPOLL_CTL_ADD, r->wakefd, &ev) < 0) {
		int err = errno ? -errno : -ENOMEM;

		reactor_destroy(r);
		return err;
	}
	atomic_init(&r->msg_head, NULL);
	r->defer_msgs_tail = &r->defer_msgs;
	*out = r;
	return 0;
}

void reactor_destroy(struct reactor *r)
{
	if (!r)
		return;
	for (int k = 0; k < atomic_load(&reactor_nkeys); k++) {
		if (r->locals[k] && reactor_key_destroy[k])
			reactor_key_destroy[k](r->locals[k]);
	}
	/* Messages still queued belong to their posters; run the allocated
	 * wrappers' frees by running nothing: drop them. */
	struct reactor_deferred *d = r->defer_head;

	while (d) {
		struct reactor_deferred *next = d->next;

		free(d);
		d = next;
	}
	if (r->epfd >= 0)
		close(r->epfd);
	if (r->wakefd >= 0)
		close(r->wakefd);
	free(r->heap);
	free(r);
}

void reactor_stop(struct reactor *r)
{
	atomic_store(&r->stopping, true);
	reactor_wake(r);
}

int reactor_add(struct reactor *r, struct reactor_handler *h, int fd,
		uint32_t events, reactor_io_fn fn, void *arg)
{
	struct epoll_event ev = {.events = events, .data.ptr = h};

	h->fd = fd;
	h->events = events;
	h->fn = fn;
	h->arg = arg;
	if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	h->active = true;
	return 0;
}

int reactor_modify(struct reactor *r, struct reactor_handler *h,
		   uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = h};

	if (!h->active)
		return -EINVAL;
	if (h->events == events)
		return 0;
	if (epoll_ctl(r->epfd, EPOLL_CTL_MOD, h->fd, &ev) < 0)
		return -errno;
	h->events = events;
	return 0;
}

void reactor_remove(struct reactor *r, struct reactor_handler *h)
{
	if (!h->active)
		return;
	epoll_ctl(r->epfd, EPOLL_CTL_DEL, h->fd, NULL);
	h->active = false;
	/* Forget events for h still waiting in this batch. */
	for (int i = r->cur_event + 1; i < r->nevents; i++) {
		if (r->events[i].data.ptr == h)
			r->events[i].data.ptr = NULL;
	}
}

void reactor_post_msg(struct reactor *r, struct reactor_msg *msg)
{
	struct reactor_msg *old =
	    atomic_load_explicit(&r->msg_head, memory_order_relaxed);

	do {
		msg->next = old;
	} while (!atomic_compare_exchange_weak_explicit(&r->msg_head, &old, msg,
							memory_order_release,
							memory_order_relaxed));
	/* Only the poster that made the stack non-empty needs to wake, and
	 * not the reactor itself: it runs its messages before it waits
	 * again (reactor_next_timeout), so a store completing on its own
	 * reactor (null, a uring fallback) costs no eventfd round trip. */
	if (!old && r != reactor_current)
		reactor_wake(r);
}

struct reactor_alloc_msg {
	struct reactor_msg msg;
	reactor_msg_fn fn;
	void *arg;
};

static void reactor_alloc_msg_run(void *arg)
{
	struct reactor_alloc_msg *m = arg;
	reactor_msg_fn fn = m->fn;
	void *fn_arg = m->arg;

	free(m);
	fn(fn_arg);
}

int reactor_post(struct reactor *r, reactor_msg_fn fn, void *arg)
{
	struct reactor_alloc_msg *m = malloc(sizeof(*m));

	if (!m)
		return -ENOMEM;
	m->fn = fn;
	m->arg = arg;
	m->msg.fn = reactor_alloc_msg_run;
	m->msg.arg = m;
	reactor_post_msg(r, &m->msg);
	return 0;
}

int reactor_defer(struct reactor *r, reactor_msg_fn fn, void *arg)
{
	struct reactor_deferred *d = malloc(sizeof(*d));

	if (!d)
		return -ENOMEM;
	d->next = NULL;
	d->fn = fn;
	d->arg = arg;
	if (r->defer_tail)
		r->defer_tail->next = d;
	else
		r->defer_head = d;
	r->defer_tail = d;
	return 0;
}

void reactor_defer_msg(struct reactor *r, struct reactor_msg *msg)
{
	msg->next = NULL;
	*r->defer_msgs_tail = msg;
	r->defer_msgs_tail = &msg->next;
}

/* --- per-reactor state of other subsystems --- */

int reactor_key_create(void (*destroy)(void *value))
{
	int k = atomic_fetch_add(&reactor_nkeys, 1);

	if (k >= REACTOR_KEYS) {
		atomic_fetch_sub(&reactor_nkeys, 1);
		return -ENOSPC;
	}
	reactor_key_destroy[k] = destroy;
	return k;
}

void *reactor_local(struct reactor *r, int key)
{
	return r->locals[key];
}

void reactor_set_local(struct reactor *r, int key, void *value)
{
	r->locals[key] = value;
}

/* --- timers: a binary min-heap on expires_ms --- */

void reactor_timer_init(struct reactor_timer *t)
{
	memset(t, 0, sizeof(*t));
	t->heap_index = -1;
}

bool reactor_timer_armed(const struct reactor_timer *t)
{
	return t->heap_index >= 0;
}

static void heap_swap(struct reactor *r, int a, int b)
{
	struct reactor_timer *t = r->heap[a];

	r->heap[a] = r->heap[b];
	r->heap[b] = t;
	r->heap[a]->heap_index = a;
	r->heap[b]->heap_index = b;
}

static void heap_up(struct reactor *r, int i)
{
	while (i > 0) {
		int parent = (i - 1) / 2;

		if (r->heap[parent]->expires_ms <= r->heap[i]->expires_ms)
			break;
		heap_swap(r, parent, i);
		i = parent;
	}
}

static void heap_down(struct reactor *r, int i)
{
	for (;;) {
		int l = 2 * i + 1, rr = l + 1, m = i;

		if (l < r->heap_len &&
		    r->heap[l]->expires_ms < r->heap[m]->expires_ms)
			m = l;
		if (rr < r->heap_len &&
		    r->heap[rr]->expires_ms < r->heap[m]->expires_ms)
			m = rr;
		if (m == i)
			return;
		heap_swap(r, i, m);
		i = m;
	}
}

void reactor_timer_cancel(struct reactor *r, struct reactor_timer *t)
{
	int i = t->heap_index;

	if (i < 0)
		return;
	r->heap_len--;
	if (i != r->heap_len) {
		r->heap[i] = r->heap[r->heap_len];
		r->heap[i]->heap_index = i;
		heap_down(r, i);
		heap_up(r, i);
	}
	t->heap_index = -1;
}

void reactor_timer_arm(struct reactor *r, struct reactor_timer *t,
		       uint64_t delay_ms, reactor_msg_fn fn, void *arg)
{
	reactor_timer_cancel(r, t);
	if (r->heap_len == r->heap_cap) {
		int cap = r->heap_cap * 2;
		struct reactor_timer **h = realloc(r->heap, cap * sizeof(*h));

		if (!h) {
			/* Cannot grow: fire as soon as possible instead of
			 * losing the timer. */
			log_error("reactor %s: timer heap full", r->name);
			reactor_defer(r, fn, arg);
			return;
		}
		r->heap = h;
		r->heap_cap = cap;
	}
	t->expires_ms = reactor_now_ms() + delay_ms;
	t->fn = fn;
	t->arg = arg;
	t->heap_index = r->heap_len;
	r->heap[r->heap_len++] = t;
	heap_up(r, t->heap_index);
}

static int reactor_next_timeout(struct reactor *r)
{
	if (r->defer_head || r->defer_msgs ||
	    atomic_load_explicit(&r->msg_head, memory_order_relaxed))
		return 0;
	if (r->heap_len == 0)
		return -1;
	uint64_t now = reactor_now_ms();
	uint64_t when = r->heap[0]->expires_ms;

	if (when <= now)
		return 0;
	return when - now > 60000 ? 60000 : (int)(when - now);
}

static void reactor_run_timers(struct reactor *r)
{
	uint64_t now = reactor_now_ms();

	while (r->heap_len > 0 && r->heap[0]->expires_ms <= now) {
		struct reactor_timer *t = r->heap[0];

		reactor_timer_cancel(r, t);
		t->fn(t->arg);
	}
}

/* woken: the eventfd fired in this batch and is drained (messages a
 * reactor posts to itself do not write it). */
static void reactor_run_messages(struct reactor *r, bool woken)
{
	uint64_t count;

	while (woken && read(r->wakefd, &count, sizeof(count)) < 0 &&
	       errno == EINTR)
		;
	struct reactor_msg *m =
	    atomic_exchange_explicit(&r->msg_head, NULL, memory_order_acquire);
	struct reactor_msg *fifo = NULL;

	while (m) {
		struct reactor_msg *next = m->next;

		m->next = fifo;
		fifo = m;
		m = next;
	}
	while (fifo) {
		struct reactor_msg *next = fifo->next;

		/* fn may free or re-post the message: read next first. */
		fifo->fn(fifo->arg);
		fifo = next;
	}
}

static void reactor_run_deferred(struct reactor *r)
{
	/* Calls deferred while running these run in the next round. */
	struct reactor_deferred *d = r->defer_head;
	struct reactor_msg *m = r->defer_msgs;

	r->defer_head = r->defer_tail = NULL;
	r->defer_msgs = NULL;
	r->defer_msgs_tail = &r->defer_msgs;
	while (m) {
		struct reactor_msg *next = m->next;

		m->fn(m->arg);
		m = next;
	}
	while (d) {
		struct reactor_deferred *next = d->next;

		d->fn(d->arg);
		free(d);
		d = next;
	}
}

int reactor_run(struct reactor *r)
{
	reactor_current = r;
	while (!atomic_load(&r->stopping)) {
		int n = epoll_wait(r->epfd, r->events, REACTOR_MAX_EVENTS,
				   reactor_next_timeout(r));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_error("reactor %s: epoll_wait: %s", r->name,
				  strerror(errno));
			reactor_current = NULL;
			return -errno;
		}
		bool woken = false;

		r->nevents = n;
		for (r->cur_event = 0; r->cur_event < n; r->cur_event++) {
			void *ptr = r->events[r->cur_event].data.ptr;
			struct reactor_handler *h = ptr;

			if (ptr == r) {
				woken = true;
				continue;
			}
			/* NULL: a handler removed earlier in this batch. */
			if (h && h->active)
				h->fn(h->arg, r->events[r->cur_event].events);
		}
		r->nevents = 0;
		r->cur_event = 0;
		/* Drain the eventfd whenever it fired (or it stays readable
		 * and the loop spins); otherwise a message check is one
		 * atomic load. */
		if (woken ||
		    atomic_load_explicit(&r->msg_head, memory_order_relaxed))
			reactor_run_messages(r, woken);
		reactor_run_timers(r);
		reactor_run_deferred(r);
	}
	/* Run what was already handed to us so that nothing posted before
	 * stop is lost silently. */
	reactor_run_messages(r, true);
	reactor_run_deferred(r);
	reactor_current = NULL;
	return 0;
}

/* --- the pool of I/O reactors --- */

struct reactor_pool {
	unsigned n;
	struct reactor **reactors;
	pthread_t *threads;
	atomic_uint next;
};

static struct reactor_pool pool;

static void *reactor_pool_thread(void *arg)
{
	struct reactor *r = arg;

	pthread_setname_np(pthread_self(), r->name);
	reactor_run(r);
	return NULL;
}

int reactor_pool_start(unsigned nthreads)
{
	int err;

	if (nthreads == 0)
		return -EINVAL;
	pool.reactors = calloc(nthreads, sizeof(*pool.reactors));
	pool.threads = calloc(nthreads, sizeof(*pool.threads));
	if (!pool.reactors || !pool.threads) {
		err = -ENOMEM;
		goto fail;
	}
	for (unsigned i = 0; i < nthreads; i++) {
		char name[16];

		snprintf(name, sizeof(name), "lunar-io%u", i % 10000);
		err = reactor_create(&pool.reactors[i], name);
		if (err)
			goto fail;
		err = -pthread_create(&pool.threads[i], NULL,
				      reactor_pool_thread, pool.reactors[i]);
		if (err) {
			reactor_destroy(pool.reactors[i]);
			pool.reactors[i] = NULL;
			goto fail;
		}
		pool.n = i + 1;
	}
	return 0;
fail:
	reactor_pool_stop();
	return err;
}

void reactor_pool_stop(void)
{
	for (unsigned i = 0; i < pool.n; i++)
		reactor_stop(pool.reactors[i]);
	for (unsigned i = 0; i < pool.n; i++) {
		pthread_join(pool.threads[i], NULL);
		reactor_destroy(pool.reactors[i]);
	}
	free(pool.reactors);
	free(pool.threads);
	memset(&pool, 0, sizeof(pool));
}

unsigned reactor_pool_size(void)
{
	return pool.n;
}

struct reactor *reactor_pool_get(unsigned i)
{
	return i < pool.n ? pool.reactors[i] : NULL;
}

struct reactor *reactor_pool_next(void)
{
	if (pool.n == 0)
		return NULL;
	return pool.reactors[atomic_fetch_add(&pool.next, 1) % pool.n];
}
