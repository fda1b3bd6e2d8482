/*
 * Portals: the listening sockets on the main reactor (RFC 7143 §3.4.1
 * network portals). "ADDR:PORT" and "[V6ADDR]:PORT" parsing, refcounted
 * listen/unlisten, accept with TCP_NODELAY and non-blocking sockets, and
 * the hand-off of each connection to a pool reactor (conn.c). The list is
 * also read by discovery on the pool reactors, hence its mutex.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "iscsi/conn.h"
#include "iscsi/iscsi.h"
#include "util/log.h"

#define PORTAL_ACCEPT_BATCH 64
#define PORTAL_BACKOFF_MS   100

struct iscsi_listener {
	struct list_head link;
	char addr[64]; /* canonical ADDR:PORT */
	struct sockaddr_storage ss;
	socklen_t sslen;
	int fd;
	unsigned refs;
	struct reactor_handler h;
	struct reactor_timer backoff;
};

static pthread_mutex_t portal_lock = PTHREAD_MUTEX_INITIALIZER;
static struct list_head portal_listeners = LIST_HEAD_INIT(portal_listeners);

int iscsi_portal_parse(const char *addr, struct sockaddr_storage *ss,
		       socklen_t *len)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *port, *end;
	unsigned long p = 0;
	size_t hl;

	memset(ss, 0, sizeof(*ss));
	if (!addr)
		return -EINVAL;
	if (addr[0] == '[') {
		end = strchr(addr, ']');
		if (!end || end[1] != ':')
			return -EINVAL;
		hl = (size_t)(end - addr - 1);
		port = end + 2;
		if (hl == 0 || hl >= sizeof(host))
			return -EINVAL;
		memcpy(host, addr + 1, hl);
	} else {
		end = strrchr(addr, ':');
		if (!end)
			return -EINVAL;
		hl = (size_t)(end - addr);
		port = end + 1;
		if (hl == 0 || hl >= sizeof(host))
			return -EINVAL;
		memcpy(host, addr, hl);
	}
	host[hl] = 0;
	if (!*port || strlen(port) > 5)
		return -EINVAL;
	for (end = port; *end; end++) {
		if (*end < '0' || *end > '9')
			return -EINVAL;
		p = p * 10 + (unsigned long)(*end - '0');
	}
	if (p == 0 || p > 65535)
		return -EINVAL;
	if (addr[0] == '[') {
		struct sockaddr_in6 *s6 = (void *)ss;

		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			return -EINVAL;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)p);
		*len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (void *)ss;

		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			return -EINVAL;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)p);
		*len = sizeof(*s4);
	}
	return 0;
}

bool iscsi_sockaddr_is_wildcard(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ((const struct sockaddr_in *)(const void *)ss)
			   ->sin_addr.s_addr == htonl(INADDR_ANY);
	if (ss->ss_family == AF_INET6)
		return IN6_IS_ADDR_UNSPECIFIED(
		    &((const struct sockaddr_in6 *)(const void *)ss)
			 ->sin6_addr);
	return false;
}

uint16_t iscsi_sockaddr_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(
		    ((const struct sockaddr_in *)(const void *)ss)->sin_port);
	if (ss->ss_family == AF_INET6)
		return ntohs(
		    ((const struct sockaddr_in6 *)(const void *)ss)->sin6_port);
	return 0;
}

static bool sockaddr_same_host(const struct sockaddr_storage *a,
			       const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)(const void *)a)
			   ->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)(const void *)b)
			   ->sin_addr.s_addr;
	return !memcmp(
	    &((const struct sockaddr_in6 *)(const void *)a)->sin6_addr,
	    &((const struct sockaddr_in6 *)(const void *)b)->sin6_addr,
	    sizeof(struct in6_addr));
}

static bool sockaddr_same(const struct sockaddr_storage *a,
			  const struct sockaddr_storage *b)
{
	return sockaddr_same_host(a, b) &&
	       iscsi_sockaddr_port(a) == iscsi_sockaddr_port(b);
}

/* Called with portal_lock held. */
static struct iscsi_listener *portal_find(const struct sockaddr_storage *ss)
{
	struct iscsi_listener *l;

	list_for_each_entry (l, &portal_listeners, link) {
		if (sockaddr_same(&l->ss, ss))
			return l;
	}
	return NULL;
}

bool iscsi_portal_serves(const char *addr)
{
	struct sockaddr_storage ss;
	struct iscsi_listener *l;
	socklen_t len;
	bool found = false;

	if (iscsi_portal_parse(addr, &ss, &len) < 0)
		return false;
	pthread_mutex_lock(&portal_lock);
	list_for_each_entry (l, &portal_listeners, link) {
		if (l->ss.ss_family == ss.ss_family &&
		    iscsi_sockaddr_port(&l->ss) == iscsi_sockaddr_port(&ss) &&
		    (iscsi_sockaddr_is_wildcard(&l->ss) ||
		     sockaddr_same_host(&l->ss, &ss))) {
			found = true;
			break;
		}
	}
	pthread_mutex_unlock(&portal_lock);
	return found;
}

static void portal_resume(void *arg)
{
	struct iscsi_listener *l = arg;

	reactor_modify(iscsi_main_reactor, &l->h, EPOLLIN);
}

static void portal_accept(void *arg, uint32_t events)
{
	struct iscsi_listener *l = arg;
	int i, one = 1;

	for (i = 0; i < PORTAL_ACCEPT_BATCH; i++) {
		struct sockaddr_storage peer, local;
		socklen_t plen = sizeof(peer), llen = sizeof(local);
		int fd = accept4(l->fd, (struct sockaddr *)&peer, &plen,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno == EINTR || errno == ECONNABORTED ||
			    errno == EPROTO)
				continue;
			if (errno == EMFILE || errno == ENFILE)
				log_warn("iscsi: portal %s: cannot take a new "
					 "connection: %s; raise lunard's open "
					 "file limit (LimitNOFILE=, ulimit -n, "
					 "fs.file-max); pausing %u ms",
					 l->addr, strerror(errno),
					 PORTAL_BACKOFF_MS);
			else
				log_warn("iscsi: portal %s: accept failed: %s; "
					 "pausing %u ms",
					 l->addr, strerror(errno),
					 PORTAL_BACKOFF_MS);
			/* out of descriptors or memory: do not spin */
			reactor_modify(iscsi_main_reactor, &l->h, 0);
			reactor_timer_arm(iscsi_main_reactor, &l->backoff,
					  PORTAL_BACKOFF_MS, portal_resume, l);
			return;
		}
		if (atomic_load(&iscsi_shutting_down) ||
		    getsockname(fd, (struct sockaddr *)&local, &llen) < 0) {
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
		iscsi_conn_accepted(fd, &local, &peer, l->addr);
	}
}

int iscsi_portal_listen(const char *addr, char *err, size_t errlen)
{
	struct iscsi_listener *l;
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1, r;

	if (!iscsi_main_reactor) {
		snprintf(err, errlen,
			 "portal %s: the iSCSI transport is not "
			 "started",
			 addr ? addr : "");
		return -EINVAL;
	}
	if (iscsi_portal_parse(addr, &ss, &len) < 0) {
		snprintf(err, errlen,
			 "portal %s: expected ADDR:PORT (\"0.0.0.0:3260\") or "
			 "[V6ADDR]:PORT (\"[::]:3260\") with a port 1-65535",
			 addr ? addr : "");
		return -EINVAL;
	}
	pthread_mutex_lock(&portal_lock);
	l = portal_find(&ss);
	if (l)
		l->refs++;
	pthread_mutex_unlock(&portal_lock);
	if (l)
		return 0;
	l = calloc(1, sizeof(*l));
	if (!l) {
		snprintf(err, errlen, "portal %s: out of memory", addr);
		return -ENOMEM;
	}
	l->ss = ss;
	l->sslen = len;
	l->refs = 1;
	reactor_timer_init(&l->backoff);
	iscsi_sockaddr_format(&ss, l->addr, sizeof(l->addr));
	l->fd =
	    socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->fd < 0) {
		r = -errno;
		snprintf(err, errlen, "portal %s: cannot create a socket: %s",
			 l->addr, strerror(errno));
		free(l);
		return r;
	}
	setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(l->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(l->fd, (struct sockaddr *)&ss, len) < 0 ||
	    listen(l->fd, SOMAXCONN) < 0) {
		r = -errno;
		if (r == -EADDRINUSE)
			snprintf(err, errlen,
				 "portal %s: address already in use; stop the "
				 "other listener or pick another port",
				 l->addr);
		else if (r == -EADDRNOTAVAIL)
			snprintf(err, errlen,
				 "portal %s: not an address of this host; use "
				 "one of its addresses or 0.0.0.0/[::]",
				 l->addr);
		else
			snprintf(err, errlen, "portal %s: cannot listen: %s",
				 l->addr, strerror(-r));
		close(l->fd);
		free(l);
		return r;
	}
	r = reactor_add(iscsi_main_reactor, &l->h, l->fd, EPOLLIN,
			portal_accept, l);
	if (r < 0) {
		snprintf(err, errlen, "portal %s: cannot watch the socket: %s",
			 l->addr, strerror(-r));
		close(l->fd);
		free(l);
		return r;
	}
	pthread_mutex_lock(&portal_lock);
	list_add_tail(&l->link, &portal_listeners);
	pthread_mutex_unlock(&portal_lock);
	log_info("iscsi: listening on %s", l->addr);
	return 0;
}

static void portal_free(void *arg)
{
	free(arg);
}

/* Main thread; l already unlinked. From inside the main loop the memory
 * goes after the current batch; once the loop has stopped, at once. */
static void portal_stop(struct iscsi_listener *l, bool in_loop)
{
	reactor_remove(iscsi_main_reactor, &l->h);
	reactor_timer_cancel(iscsi_main_reactor, &l->backoff);
	close(l->fd);
	log_info("iscsi: stopped listening on %s", l->addr);
	if (!in_loop || reactor_defer(iscsi_main_reactor, portal_free, l) < 0)
		free(l); /* removed: no event of it can run any more */
}

int iscsi_portal_unlisten(const char *addr)
{
	struct sockaddr_storage ss;
	struct iscsi_listener *l;
	socklen_t len;

	if (iscsi_portal_parse(addr, &ss, &len) < 0)
		return -EINVAL;
	pthread_mutex_lock(&portal_lock);
	l = portal_find(&ss);
	if (l && --l->refs == 0)
		list_del(&l->link);
	else if (l)
		l = NULL;
	else {
		pthread_mutex_unlock(&portal_lock);
		return -ENOENT;
	}
	pthread_mutex_unlock(&portal_lock);
	if (l)
		portal_stop(l, true);
	return 0;
}

size_t iscsi_portal_list(char (*out)[64], size_t max)
{
	struct iscsi_listener *l;
	size_t n = 0;

	pthread_mutex_lock(&portal_lock);
	list_for_each_entry (l, &portal_listeners, link) {
		if (n < max)
			snprintf(out[n], sizeof(out[n]), "%s", l->addr);
		n++;
	}
	pthread_mutex_unlock(&portal_lock);
	return n;
}

void iscsi_portal_close_all(bool in_loop)
{
	struct list_head gone = LIST_HEAD_INIT(gone);
	struct iscsi_listener *l, *n;

	pthread_mutex_lock(&portal_lock);
	list_for_each_entry_safe (l, n, &portal_listeners, link) {
		list_del(&l->link);
		list_add_tail(&l->link, &gone);
	}
	pthread_mutex_unlock(&portal_lock);
	list_for_each_entry_safe (l, n, &gone, link) {
		list_del(&l->link);
		portal_stop(l, in_loop);
	}
}
