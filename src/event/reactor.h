/*
 * The reactor: one epoll event loop per thread, with timers and a
 * thread-safe message queue woken through an eventfd.
 *
 * Rules every user follows:
 *  - An object that owns a reactor_handler is only touched on the thread
 *    of the reactor it was added to.
 *  - Never free an object whose handler may still have an event pending in
 *    the current batch: call reactor_remove() and free it from a function
 *    passed to reactor_defer(), which runs after the current batch.
 *  - reactor_post() is the only call that may be made from any thread.
 */
#ifndef LUNAR_EVENT_REACTOR_H
#define LUNAR_EVENT_REACTOR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

struct reactor;

typedef void (*reactor_io_fn)(void *arg, uint32_t events);
typedef void (*reactor_msg_fn)(void *arg);

struct reactor_handler {
	int fd;
	uint32_t events;
	reactor_io_fn fn;
	void *arg;
	bool active;
};

/* An intrusive message: posting one never allocates and never fails. */
struct reactor_msg {
	struct reactor_msg *next;
	reactor_msg_fn fn;
	void *arg;
};

struct reactor_timer {
	uint64_t expires_ms; /* CLOCK_MONOTONIC milliseconds */
	reactor_msg_fn fn;
	void *arg;
	int heap_index; /* -1 when not armed */
};

int reactor_create(struct reactor **out, const char *name);
/* Frees a reactor that is not running. Pending messages are dropped. */
void reactor_destroy(struct reactor *r);
/* Runs the loop on the calling thread until reactor_stop(). */
int reactor_run(struct reactor *r);
/* Thread-safe: makes reactor_run() return after its current batch. */
void reactor_stop(struct reactor *r);
const char *reactor_name(const struct reactor *r);

/* Registers fd (EPOLLIN/EPOLLOUT/...); h must stay valid until removed. */
int reactor_add(struct reactor *r, struct reactor_handler *h, int fd,
		uint32_t events, reactor_io_fn fn, void *arg);
int reactor_modify(struct reactor *r, struct reactor_handler *h,
		   uint32_t events);
/* Stops delivery at once, including events already fetched in this batch. */
void reactor_remove(struct reactor *r, struct reactor_handler *h);

/* Thread-safe: runs fn(arg) on r's thread soon. Returns -ENOMEM/-EPIPE. */
int reactor_post(struct reactor *r, reactor_msg_fn fn, void *arg);
/* Thread-safe, allocation-free: runs msg->fn(msg->arg) on r's thread.
 * msg must stay valid until it has run; post it again only after that. */
void reactor_post_msg(struct reactor *r, struct reactor_msg *msg);
/* Same thread only: runs fn(arg) after the current event batch. */
int reactor_defer(struct reactor *r, reactor_msg_fn fn, void *arg);

/* Same thread only, allocation-free: runs msg->fn(msg->arg) after the
 * current event batch, before the loop waits again (a store submits the
 * batch's requests in one system call). Queue msg again only after it ran. */
void reactor_defer_msg(struct reactor *r, struct reactor_msg *msg);

/*
 * Per-reactor state of another subsystem (a store's io_uring ring on each
 * reactor that issues to it): a key names one pointer slot in every
 * reactor. reactor_destroy() passes each non-NULL value to the key's
 * destroy function. Keys are made once, at start-up (-ENOSPC beyond
 * REACTOR_KEYS); a slot is read and set only on its reactor's thread.
 */
#define REACTOR_KEYS 4
int reactor_key_create(void (*destroy)(void *value));
void *reactor_local(struct reactor *r, int key);
void reactor_set_local(struct reactor *r, int key, void *value);

/* Same thread only. Re-arming an armed timer moves it. */
void reactor_timer_init(struct reactor_timer *t);
void reactor_timer_arm(struct reactor *r, struct reactor_timer *t,
		       uint64_t delay_ms, reactor_msg_fn fn, void *arg);
void reactor_timer_cancel(struct reactor *r, struct reactor_timer *t);
bool reactor_timer_armed(const struct reactor_timer *t);

/* The reactor running on the calling thread, or NULL. */
struct reactor *reactor_self(void);
uint64_t reactor_now_ms(void);

/*
 * The pool of I/O reactors, each on its own thread. New connections are
 * spread over them (DESIGN.md §9: connections, not targets).
 */
int reactor_pool_start(unsigned nthreads);
/* Stops and joins every pool thread. */
void reactor_pool_stop(void);
unsigned reactor_pool_size(void);
struct reactor *reactor_pool_get(unsigned i);
/* Round-robin choice for a new connection. */
struct reactor *reactor_pool_next(void);

#endif
