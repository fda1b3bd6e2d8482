/*
 * The control socket (docs/control-protocol.md): a unix stream socket on
 * the main reactor, mode 0600 in a directory created on demand. Clients of
 * another uid (SO_PEERCRED; root excepted) get one error line and are
 * closed. Each client has a line buffer capped at 1 MiB per request and a
 * non-blocking output queue; while a response waits for the socket to
 * drain, the client's further requests wait too, so a client that never
 * reads cannot make the daemon buffer without bound.
 *
 * At start a live socket (another lunard answering) is refused with
 * -EADDRINUSE; a stale socket file left by a crash is replaced.
 */
#include "mgmt/mgmt_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "event/reactor.h"
#include "util/list.h"
#include "util/log.h"

#define MGMT_READ_CHUNK 65536

struct mgmt_client {
	struct list_head link;
	struct reactor_handler h;
	int fd;
	char *in;
	size_t in_len, in_cap;
	bool skipping; /* discarding the rest of an over-long line */
	bool eof;
	char *out;
	size_t out_len, out_off, out_cap;
};

static struct {
	struct reactor *reactor;
	struct reactor_handler h;
	int fd;
	char *control_path;
	char *state_dir;
	char *config_path;
	char **portals;
	struct mgmt_options opts;
	struct list_head clients;
	bool listening;
} mgmt = {
    .fd = -1,
    .opts = {.control_path = MGMT_DEFAULT_CONTROL,
	     .state_dir = MGMT_DEFAULT_STATE_DIR},
    .clients = LIST_HEAD_INIT(mgmt.clients),
};

const struct mgmt_options *mgmt_get_options(void)
{
	return &mgmt.opts;
}

void mgmt_default_config_path(char *out, size_t outlen)
{
	const struct mgmt_options *o = &mgmt.opts;

	if (o->config_path && o->config_path[0])
		snprintf(out, outlen, "%s", o->config_path);
	else
		snprintf(out, outlen, "%s/lunar.json",
			 o->state_dir ? o->state_dir : MGMT_DEFAULT_STATE_DIR);
}

/* ---- clients ------------------------------------------------------- */

static void mgmt_client_free_now(void *arg)
{
	struct mgmt_client *c = arg;

	close(c->fd);
	free(c->in);
	free(c->out);
	free(c);
}

static void mgmt_client_close(struct mgmt_client *c)
{
	reactor_remove(mgmt.reactor, &c->h);
	list_del(&c->link);
	if (reactor_defer(mgmt.reactor, mgmt_client_free_now, c) < 0)
		mgmt_client_free_now(c); /* removed: no event can reach it */
}

static int mgmt_client_queue(struct mgmt_client *c, const char *s, size_t n)
{
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (c->out_len + n > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		while (cap < c->out_len + n)
			cap *= 2;
		char *p = realloc(c->out, cap);
		if (!p)
			return -ENOMEM;
		c->out = p;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, s, n);
	c->out_len += n;
	return 0;
}

static int mgmt_client_respond(struct mgmt_client *c, json_t *resp)
{
	char *text = json_dumps(resp, JSON_COMPACT);
	int rc;

	json_decref(resp);
	if (!text)
		return -ENOMEM;
	rc = mgmt_client_queue(c, text, strlen(text));
	if (!rc)
		rc = mgmt_client_queue(c, "\n", 1);
	free(text);
	return rc;
}

/* Returns 0 when everything queued was written, -EAGAIN when the socket is
 * full, or another negative errno when the client is gone. */
static int mgmt_client_flush(struct mgmt_client *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n =
		    send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
			 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EWOULDBLOCK ? -EAGAIN : -errno;
		}
		c->out_off += (size_t)n;
	}
	c->out_off = c->out_len = 0;
	return 0;
}

static json_t *mgmt_error_response(int err, const char *msg)
{
	return json_pack("{s:b, s:s, s:i}", "ok", 0, "error", msg, "errno",
			 err);
}

static void mgmt_client_line(struct mgmt_client *c, char *line, size_t len)
{
	if (len && line[len - 1] == '\r')
		len--;
	/* Blank lines are not requests: nothing to answer. */
	bool blank = true;
	for (size_t i = 0; i < len && blank; i++)
		blank = line[i] == ' ' || line[i] == '\t';
	if (blank)
		return;
	if (mgmt_client_respond(c, mgmt_handle_request(line, len)) < 0)
		log_warn("control: out of memory answering a request");
}

/* Handles the complete lines in the input buffer, stopping when a
 * response cannot be written at once. Returns 0, -EAGAIN (output pending)
 * or another negative errno (drop the client). */
static int mgmt_client_process(struct mgmt_client *c)
{
	int rc;

	for (;;) {
		char *nl = c->in_len ? memchr(c->in, '\n', c->in_len) : NULL;
		size_t used;

		if (!nl) {
			if (c->skipping) {
				c->in_len = 0;
			} else if (c->in_len > MGMT_LINE_MAX) {
				char msg[128];
				snprintf(msg, sizeof(msg),
					 "request line is over %d bytes (1 "
					 "MiB); send smaller requests",
					 MGMT_LINE_MAX);
				mgmt_client_respond(
				    c, mgmt_error_response(EINVAL, msg));
				c->skipping = true;
				c->in_len = 0;
			} else if (c->eof && c->in_len) {
				/* A last request without its newline. */
				size_t n = c->in_len;
				c->in_len = 0;
				mgmt_client_line(c, c->in, n);
			}
			return mgmt_client_flush(c);
		}
		*nl = '\0';
		used = (size_t)(nl - c->in) + 1;
		if (c->skipping) {
			c->skipping = false;
		} else if (used - 1 > MGMT_LINE_MAX) {
			mgmt_client_respond(
			    c, mgmt_error_response(
				   EINVAL, "request line is over 1 MiB; send "
					   "smaller requests"));
		} else {
			mgmt_client_line(c, c->in, used - 1);
		}
		memmove(c->in, c->in + used, c->in_len - used);
		c->in_len -= used;
		rc = mgmt_client_flush(c);
		if (rc)
			return rc;
	}
}

static int mgmt_client_read(struct mgmt_client *c)
{
	for (;;) {
		if (c->in_cap - c->in_len < MGMT_READ_CHUNK) {
			size_t cap =
			    c->in_cap ? c->in_cap * 2 : MGMT_READ_CHUNK;
			if (cap < c->in_len + MGMT_READ_CHUNK)
				cap = c->in_len + MGMT_READ_CHUNK;
			char *p = realloc(c->in, cap);
			if (!p)
				return -ENOMEM;
			c->in = p;
			c->in_cap = cap;
		}
		ssize_t n = recv(c->fd, c->in + c->in_len,
				 c->in_cap - c->in_len, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EWOULDBLOCK ? 0 : -errno;
		}
		if (n == 0)
			c->eof = true;
		c->in_len += (size_t)n;
		int rc = mgmt_client_process(c);
		if (rc)
			return rc;
		if (c->eof)
			return 0;
	}
}

static void mgmt_client_event(void *arg, uint32_t events)
{
	struct mgmt_client *c = arg;
	int rc = 0;

	if (events & EPOLLOUT) {
		rc = mgmt_client_flush(c);
		/* Drained: answer what was waiting behind the full socket. */
		if (!rc)
			rc = mgmt_client_process(c);
	} else if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		rc = mgmt_client_read(c);
	}
	if (rc == -EAGAIN) {
		reactor_modify(mgmt.reactor, &c->h, EPOLLOUT);
		return;
	}
	if (rc || c->eof) {
		mgmt_client_close(c);
		return;
	}
	reactor_modify(mgmt.reactor, &c->h, EPOLLIN);
}

static void mgmt_accept(void *arg, uint32_t events)
{
	for (;;) {
		struct ucred cred = {
		    .pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1};
		socklen_t len = sizeof(cred);
		int fd =
		    accept4(mgmt.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN)
				log_warn("control: accept on %s: %s",
					 mgmt.opts.control_path,
					 strerror(errno));
			return;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
		    (cred.uid != geteuid() && cred.uid != 0)) {
			char msg[512];
			json_t *resp = json_pack(
			    "{s:b, s:s, s:i}", "ok", 0, "error",
			    "permission denied: run lunarctl as lunard's user "
			    "or root",
			    "errno", EACCES);
			char *text =
			    resp ? json_dumps(resp, JSON_COMPACT) : NULL;
			int n = snprintf(msg, sizeof(msg), "%s\n",
					 text ? text : "");
			free(text);
			json_decref(resp);
			log_warn("control: refused a client of uid %d",
				 (int)cred.uid);
			if (send(fd, msg, (size_t)n,
				 MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
				log_debug("control: refusal not sent: %s",
					  strerror(errno));
			close(fd);
			continue;
		}
		struct mgmt_client *c = calloc(1, sizeof(*c));
		if (!c || reactor_add(mgmt.reactor, &c->h, fd, EPOLLIN,
				      mgmt_client_event, c) < 0) {
			log_warn("control: cannot serve a new client: %s",
				 c ? strerror(errno) : "out of memory");
			free(c);
			close(fd);
			continue;
		}
		c->fd = fd;
		list_add_tail(&c->link, &mgmt.clients);
	}
}

/* ---- start and stop ------------------------------------------------ */

static int mgmt_mkdir_p(const char *dir, char *err, size_t errlen)
{
	char buf[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct stat st;

	snprintf(buf, sizeof(buf), "%s", dir);
	for (char *p = buf + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST) {
			int rc = -errno;
			snprintf(err, errlen,
				 "cannot create directory %s for the control "
				 "socket: %s; create it or pick another "
				 "--control",
				 buf, strerror(errno));
			return rc;
		}
		*p = saved;
		if (saved == '\0')
			break;
	}
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen,
			 "%s is not a directory; pick another --control", dir);
		return -ENOTDIR;
	}
	return 0;
}

/* Decides what an existing file at the socket path is: another lunard
 * (refuse), a stale socket (remove), or something else (refuse). */
static int mgmt_claim_path(const struct sockaddr_un *sa, char *err,
			   size_t errlen)
{
	const char *path = sa->sun_path;
	struct stat st;
	int fd, rc;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen,
			 "%s exists and is not a socket; remove it or pick "
			 "another --control",
			 path);
		return -EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	rc = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	int saved = errno;
	close(fd);
	if (rc == 0) {
		snprintf(err, errlen,
			 "another lunard is already running on control socket "
			 "%s; stop it first or give this one another --control",
			 path);
		return -EADDRINUSE;
	}
	if (saved != ECONNREFUSED) {
		snprintf(err, errlen,
			 "cannot check control socket %s: %s; remove it if no "
			 "lunard uses it, or pick another --control",
			 path, strerror(saved));
		return -saved;
	}
	if (unlink(path) < 0 && errno != ENOENT) {
		rc = -errno;
		snprintf(err, errlen,
			 "cannot remove stale control socket %s: %s", path,
			 strerror(errno));
		return rc;
	}
	log_info("control: replaced stale socket %s", path);
	return 0;
}

static char *mgmt_strdup_opt(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void mgmt_free_options(void)
{
	free(mgmt.control_path);
	free(mgmt.state_dir);
	free(mgmt.config_path);
	for (char **p = mgmt.portals; p && *p; p++)
		free(*p);
	free(mgmt.portals);
	mgmt.control_path = mgmt.state_dir = mgmt.config_path = NULL;
	mgmt.portals = NULL;
	mgmt.opts = (struct mgmt_options){
	    .control_path = MGMT_DEFAULT_CONTROL,
	    .state_dir = MGMT_DEFAULT_STATE_DIR,
	};
}

static int mgmt_copy_options(const struct mgmt_options *o)
{
	size_t n = 0;

	mgmt.control_path =
	    strdup(o->control_path ? o->control_path : MGMT_DEFAULT_CONTROL);
	mgmt.state_dir =
	    strdup(o->state_dir ? o->state_dir : MGMT_DEFAULT_STATE_DIR);
	mgmt.config_path = mgmt_strdup_opt(o->config_path);
	while (o->portals && o->portals[n])
		n++;
	mgmt.portals = calloc(n + 1, sizeof(char *));
	if (!mgmt.control_path || !mgmt.state_dir || !mgmt.portals ||
	    (o->config_path && !mgmt.config_path))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		mgmt.portals[i] = strdup(o->portals[i]);
		if (!mgmt.portals[i])
			return -ENOMEM;
	}
	mgmt.opts = (struct mgmt_options){
	    .control_path = mgmt.control_path,
	    .state_dir = mgmt.state_dir,
	    .config_path = mgmt.config_path,
	    .threads = o->threads,
	    .portals = (const char *const *)mgmt.portals,
	};
	return 0;
}

int mgmt_init(struct reactor *main_reactor, const struct mgmt_options *o,
	      char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char dir[sizeof(sa.sun_path)];
	const char *path;
	int fd, rc;

	if (errlen)
		err[0] = '\0';
	if (mgmt.listening) {
		snprintf(err, errlen, "the control socket is already open");
		return -EALREADY;
	}
	if (mgmt_copy_options(o) < 0) {
		mgmt_free_options();
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	path = mgmt.opts.control_path;
	if (strlen(path) >= sizeof(sa.sun_path) || path[0] == '\0') {
		snprintf(err, errlen,
			 "control socket path '%s' must be 1..%zu bytes; pick "
			 "a shorter --control",
			 path, sizeof(sa.sun_path) - 1);
		rc = -ENAMETOOLONG;
		goto fail;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		rc = mgmt_mkdir_p(dir, err, errlen);
		if (rc)
			goto fail;
	}
	rc = mgmt_claim_path(&sa, err, errlen);
	if (rc) {
		if (!err[0])
			snprintf(err, errlen, "control socket %s: %s", path,
				 strerror(-rc));
		goto fail;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "control socket: %s", strerror(errno));
		goto fail;
	}
	/* The socket file is created with the umask; make it 0600 from the
	 * start so no other user can connect in the window before chmod. */
	mode_t old = umask(0177);
	rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	int saved = errno;
	umask(old);
	if (rc < 0 || chmod(path, 0600) < 0 || listen(fd, 64) < 0) {
		rc = rc < 0 ? -saved : -errno;
		snprintf(err, errlen,
			 "cannot listen on control socket %s: %s; pick another "
			 "--control",
			 path, strerror(-rc));
		close(fd);
		unlink(path);
		goto fail;
	}
	rc = reactor_add(main_reactor, &mgmt.h, fd, EPOLLIN, mgmt_accept, NULL);
	if (rc) {
		snprintf(err, errlen, "control socket %s: %s", path,
			 strerror(-rc));
		close(fd);
		unlink(path);
		goto fail;
	}
	mgmt.reactor = main_reactor;
	mgmt.fd = fd;
	mgmt.listening = true;
	log_info("control: listening on %s", path);
	return 0;
fail:
	mgmt_free_options();
	return rc;
}

void mgmt_exit(void)
{
	struct mgmt_client *c, *n;

	if (!mgmt.listening)
		return;
	list_for_each_entry_safe (c, n, &mgmt.clients, link) {
		reactor_remove(mgmt.reactor, &c->h);
		list_del(&c->link);
		mgmt_client_free_now(c);
	}
	reactor_remove(mgmt.reactor, &mgmt.h);
	close(mgmt.fd);
	unlink(mgmt.opts.control_path);
	mgmt.fd = -1;
	mgmt.listening = false;
	mgmt_free_options();
}
