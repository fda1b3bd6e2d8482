/*
 * Internal to the iSCSI transport: connections, sessions and tasks, and the
 * calls the transport's files make on each other. Not for other layers
 * (they use iscsi.h).
 *
 * Threading (DESIGN.md §3): a connection, its session (MaxConnections=1)
 * and its tasks live on one pool reactor for life and take no lock. The
 * registry of connections and sessions is guarded by a mutex used only at
 * accept, login, logout, teardown and by the management calls; anything
 * another thread wants done to a connection is posted to its reactor while
 * holding a reference (iscsi_conn_get/put).
 */
#ifndef LUNAR_ISCSI_CONN_H
#define LUNAR_ISCSI_CONN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "event/reactor.h"
#include "iscsi/chap.h"
#include "iscsi/param.h"
#include "iscsi/pdu.h"
#include "scsi/scsi.h"
#include "util/list.h"

/* Command window: MaxCmdSN - ExpCmdSN + 1 never exceeds this. */
#define ISCSI_QUEUE_DEPTH 128
/* Immediate commands outstanding at once before Reject (reason 6). */
#define ISCSI_MAX_IMMEDIATE 32
/* Login must reach the Full Feature Phase within this time. */
#define ISCSI_LOGIN_TIMEOUT_MS 15000
/* Largest login data segment accepted (RFC 7143 §6.1: 8192). */
#define ISCSI_LOGIN_MAX_DSL 8192
/* Largest login/text key=value text collected over C-bit continuations. */
#define ISCSI_TEXT_REQ_MAX 65536
#define ISCSI_TEXT_RSP_MAX (1u << 20)
/* A connection told to close after its last PDU waits this long for it. */
#define ISCSI_CLOSE_LINGER_MS 5000
/* Re-check period while a reinstated session is still going away. */
#define ISCSI_REINSTATE_POLL_MS 10
/* Seconds the initiator gets to log out when the daemon shuts down. */
#define ISCSI_SHUTDOWN_LOGOUT_SECS 2
/* Outstanding R2Ts per task we keep state for. */
#define ISCSI_R2T_SLOTS 16
/* Bytes of out-of-order command PDUs held per session. */
#define ISCSI_HOLD_MAX (16u << 20)
/* Control PDUs queued before the connection stops reading. */
#define ISCSI_CTL_BACKLOG 256
/* Task Management responses held back (waiting for aborted tasks to end)
 * before the connection stops reading. */
#define ISCSI_TMF_WAIT_MAX 64
/* How often a held reset response looks at other nexuses' aborts. */
#define ISCSI_TMF_POLL_MS 1
/* Socket receive staging buffer; data segments this large or more are
 * read straight into their destination. */
#define ISCSI_RBUF_SIZE 65536
#define ISCSI_ITT_HASH	64
/* PDUs of one task on the transmit queue at once (scsi_rsp.c). */
#define ISCSI_TASK_TX_SLOTS 8

struct iscsi_conn;
struct iscsi_txpdu;
struct iscsi_session;
struct iscsi_login;
struct iscsi_text_xchg;

/* Called once per queued PDU: sent, or discarded because the connection
 * closed (sent == false). */
typedef void (*iscsi_tx_done_fn)(struct iscsi_conn *c, struct iscsi_txpdu *p,
				 bool sent);

/* One PDU on the transmit queue: header (+digest), data, pad (+digest). */
struct iscsi_txpdu {
	struct list_head link;
	iscsi_tx_done_fn done;
	void *owner; /* for done: the task whose PDU this is */
	const uint8_t *data;
	uint32_t dlen;
	uint8_t hdr_len;
	uint8_t trailer_len;
	uint8_t hdr[ISCSI_BHS_LEN + ISCSI_DIGEST_LEN];
	uint8_t trailer[3 + ISCSI_DIGEST_LEN];
};

/* A control PDU (anything but Data-In/SCSI Response/R2T data) from the
 * connection's free list. */
struct iscsi_ctlpdu {
	struct iscsi_txpdu tx;
	void *owned; /* freed once sent */
	bool close_after;
	uint8_t inline_data[ISCSI_BHS_LEN];
	/* tmf.c: a Task Management Function Response held on
	 * conn->tmf_wait (through tx.link) until the tasks its function
	 * aborted have ended (RFC 7143 §11.5.1). */
	struct {
		uint64_t fence; /* waits for tasks with 0 < fence <= this */
		uint32_t itt;
		uint8_t response;
		uint8_t add_rsp_info[3];
		uint8_t lun[8];
		uint8_t others; /* TMF_OTHERS_*: other nexuses' aborts */
		bool cold;	/* TARGET COLD RESET: close sessions after */
	} tmf;
};

enum iscsi_task_state {
	ISCSI_TASK_DATA_OUT, /* collecting write data */
	ISCSI_TASK_EXEC,     /* in the SCSI core, done pending */
	ISCSI_TASK_TX,	     /* Data-In / response on the transmit queue */
};

struct iscsi_r2t_slot {
	bool busy;
	uint32_t ttt, r2tsn, offset, len, received, next_datasn;
};

struct iscsi_task {
	struct scsi_cmd cmd;
	struct iscsi_conn *conn;
	struct list_head link;	    /* conn->tasks, or conn->task_free */
	struct list_head hash_link; /* conn->itt_hash */
	uint32_t itt, cmdsn;
	enum iscsi_task_state state;
	bool immediate;
	bool prepared;	/* scsi_cmd_prepare called: release owed */
	bool aborted;	/* no response will be sent */
	bool in_core;	/* scsi_cmd_execute called, done not yet */
	bool want_read; /* R bit */
	bool want_write;
	bool failed;	/* final status set without execution */
	bool in_window; /* counted in conn->nr_window */
	/* write data collection (RFC 7143 §4.2.2.x, §11.7-11.8) */
	bool unsol_open;
	uint32_t unsol_limit, unsol_received, unsol_datasn;
	uint32_t r2t_next, r2tsn;
	unsigned nr_r2t;
	struct iscsi_r2t_slot r2t[ISCSI_R2T_SLOTS];
	/* A TMF aborted it while the core held it: the TMF responses with
	 * a fence of this value or more wait for its end (tmf.c). */
	uint64_t fence;
	/* Data-In / response */
	uint32_t in_len, in_off, in_burst, datasn;
	bool collapse;
	bool rsp_sent; /* the PDU with the status is built (has a StatSN) */
	/* Its PDUs on the transmit queue, oldest first, in a ring of
	 * tx_slots: pdu, then xpdu[] (ISCSI_TASK_TX_SLOTS - 1 more, for a
	 * read of several Data-In PDUs, which then leave in one send). */
	uint8_t tx_head, tx_count, tx_slots;
	struct iscsi_txpdu pdu;
	struct iscsi_txpdu *xpdu;
	uint8_t rsp_data[2 + SCSI_SENSE_MAX];
};

/* The task's i-th PDU on the transmit queue (0: the oldest). */
static inline struct iscsi_txpdu *iscsi_task_slot(struct iscsi_task *t,
						  unsigned i)
{
	i = (t->tx_head + i) % t->tx_slots;
	return i ? &t->xpdu[i - 1] : &t->pdu;
}

enum iscsi_conn_state {
	ISCSI_CONN_INIT,       /* accepted, not yet on its reactor */
	ISCSI_CONN_LOGIN,      /* login phase */
	ISCSI_CONN_FFP,	       /* full feature phase */
	ISCSI_CONN_LOGOUT,     /* logout received; answering once idle */
	ISCSI_CONN_CLOSE_WAIT, /* last PDU queued, closing once sent */
	ISCSI_CONN_CLOSING,    /* socket closed, waiting for the SCSI core */
	ISCSI_CONN_DEAD,       /* torn down, memory freed soon */
};

enum iscsi_rx_state {
	ISCSI_RX_HDR,
	ISCSI_RX_DATA,
	ISCSI_RX_DDIGEST,
};

/* What becomes of the PDU being received once its data is in. */
enum iscsi_rx_disp {
	ISCSI_RX_DROP,	 /* discard silently */
	ISCSI_RX_HANDLE, /* data in rx_buf; handled by its opcode's handler */
	ISCSI_RX_HOLD,	 /* out-of-order command, kept in rx_hold */
	ISCSI_RX_TASK,	 /* SCSI Command / Data-Out, owned by scsi_task.c */
};

struct iscsi_conn {
	/* registry, under iscsi_registry_lock */
	struct list_head reg_link;
	bool registered;
	atomic_int refcnt;

	struct reactor *reactor;
	struct reactor_handler h;
	bool h_added;
	int fd;
	enum iscsi_conn_state state;
	bool in_close;
	char peer[64];
	char local[64];
	char portal[64]; /* the listener's ADDR:PORT */
	struct sockaddr_storage local_sa;

	struct iscsi_session *sess;
	struct iscsi_login *login;
	struct iscsi_text_xchg *text;
	struct iscsi_params params; /* in force in the full feature phase */
	uint16_t cid;
	bool hdigest, ddigest;
	uint32_t max_recv_dsl, max_xmit_dsl;
	uint32_t statsn;

	/* receive */
	enum iscsi_rx_state rx_state;
	uint32_t rx_hdr_len, rx_hdr_got;
	uint8_t rx_hdr[ISCSI_HDR_MAX];
	uint8_t *rx_dst;
	uint32_t rx_dst_len; /* bytes of the data segment stored at rx_dst */
	uint32_t rx_seg_len; /* data segment + padding */
	uint32_t rx_seg_got;
	ssize_t rx_last_want; /* bytes the last read asked for */
	uint32_t rx_crc;
	uint8_t rx_ddig[ISCSI_DIGEST_LEN];
	uint32_t rx_ddig_got;
	/* The reactor's staging buffer (conn_rbuf): a receive consumes all
	 * of it before the next connection's receive on that reactor. */
	uint8_t *rbuf;
	uint32_t rbuf_start, rbuf_end;
	uint8_t *rx_buf; /* data of non-SCSI PDUs */
	uint32_t rx_buf_cap;
	bool rx_buf_shed; /* free rx_buf when idle (conn_rx_buf_fit) */
	bool in_rx;
	bool rx_paused;
	bool redelivering;
	enum iscsi_rx_disp rx_disp;
	uint32_t cur_events;
	struct iscsi_pending *rx_hold; /* out-of-order PDU being received */
	struct iscsi_task *rx_task;    /* task the current PDU feeds */
	int rx_slot;		       /* its R2T slot, -1: unsolicited */

	/* transmit */
	struct list_head txq;
	uint32_t tx_off;
	bool tx_blocked;
	bool tx_flushing;
	/* A flush is queued for the end of the reactor's event batch, so
	 * that the answers completed in one wakeup leave in one sendmsg. */
	bool tx_flush_queued;
	struct reactor_msg tx_flush_msg;
	unsigned nr_ctl_queued;
	unsigned nr_ctl_free;
	struct list_head ctl_free;

	/* tasks */
	struct list_head tasks;
	struct list_head task_free;
	struct list_head itt_hash[ISCSI_ITT_HASH];
	unsigned nr_tasks, nr_free_tasks, nr_in_core, nr_immediate, nr_window;
	uint32_t next_ttt;

	/* task management responses held back (tmf.c) */
	struct list_head tmf_wait; /* struct iscsi_ctlpdu, oldest first */
	unsigned nr_tmf_wait;
	uint64_t tmf_seq; /* the last fence given */
	bool in_tmf_check;

	/* timers */
	struct reactor_timer login_timer;
	struct reactor_timer nop_timer;
	struct reactor_timer aux_timer; /* linger, reinstatement, shutdown */
	struct reactor_timer tmf_timer; /* held reset responses (tmf.c) */
	uint64_t last_rx_ms;
	uint64_t nop_sent_ms;
	uint32_t nop_ttt;
	bool nop_outstanding;
	bool shutdown_requested;
	bool logout_pending;
	uint32_t logout_itt;
	uint8_t logout_response;

	struct reactor_msg free_msg;
};

/* An out-of-order command PDU, or a tombstone for a CmdSN that a TMF
 * declared received (RFC 7143 §11.5.1). */
struct iscsi_pending {
	struct list_head link;
	uint32_t cmdsn;
	bool tombstone;
	uint32_t hdr_len;
	uint32_t dlen;
	uint8_t *data;
	uint8_t hdr[ISCSI_HDR_MAX];
};

struct iscsi_session {
	struct list_head link;	     /* registry */
	struct list_head nexus_link; /* registry's hash by I_T nexus */
	atomic_int refcnt;
	struct reactor *reactor;
	struct iscsi_conn *conn; /* owning reactor only */
	uint64_t sid;
	uint16_t tsih;
	uint8_t isid[6];
	bool discovery;
	bool registered;
	struct scsi_target *target; /* reference; NULL for discovery */
	bool nexus_live;
	struct scsi_nexus nexus;
	char initiator[ISCSI_NAME_MAX];
	char alias[256];
	char target_name[ISCSI_NAME_MAX];
	/* immutable once registered, for iscsi_session_list */
	uint16_t cid;
	char peer[64];
	char local[64];
	bool header_digest, data_digest;
	uint32_t max_recv_dsl, max_xmit_dsl;
	_Atomic uint64_t cmds;
	/* command numbering (owning reactor only) */
	uint32_t exp_cmdsn, max_cmdsn;
	struct list_head pending; /* sorted by CmdSN */
	uint32_t pending_bytes;
};

/* iscsi.c: transport-wide state */
extern struct iscsi_limits iscsi_lim;
extern struct reactor *iscsi_main_reactor;
extern atomic_bool iscsi_shutting_down;
void iscsi_shutdown_conn_gone(void);

/* conn.c */
void iscsi_conn_accepted(int fd, const struct sockaddr_storage *local,
			 const struct sockaddr_storage *peer,
			 const char *portal);
void iscsi_conn_get(struct iscsi_conn *c);
void iscsi_conn_put(struct iscsi_conn *c);
void iscsi_conn_close(struct iscsi_conn *c);
void iscsi_conn_close_after_tx(struct iscsi_conn *c);
void iscsi_conn_maybe_teardown(struct iscsi_conn *c);
void iscsi_conn_queue(struct iscsi_conn *c, struct iscsi_txpdu *p);
void iscsi_conn_flush(struct iscsi_conn *c);
/* Fills StatSN (advancing it when advance) and the command window. */
void iscsi_conn_sn(struct iscsi_conn *c, struct iscsi_sn *sn, bool advance);
/* Digests and padding for a PDU whose BHS and data are in place. */
void iscsi_txpdu_seal(struct iscsi_conn *c, struct iscsi_txpdu *p);
struct iscsi_ctlpdu *iscsi_ctl_alloc(struct iscsi_conn *c);
/* Stops reading a peer that leaves its answers unread or keeps many task
 * management responses waiting; reads again once both are down to half. */
void iscsi_conn_rx_throttle(struct iscsi_conn *c);
/* Gives back a control PDU that will not be sent. */
void iscsi_ctl_release(struct iscsi_conn *c, struct iscsi_ctlpdu *p);
/* Seals and queues; data (dlen bytes) must live until sent: pass owned
 * (freed after) or inline_data. */
void iscsi_ctl_send(struct iscsi_conn *c, struct iscsi_ctlpdu *p,
		    const void *data, uint32_t dlen, void *owned);
void iscsi_conn_rx_set_dst(struct iscsi_conn *c, uint8_t *dst, uint32_t len);
void iscsi_conn_enter_ffp(struct iscsi_conn *c, const struct iscsi_params *p);
void iscsi_conn_redeliver(struct iscsi_conn *c, struct iscsi_pending *pd);
/* Header time: keep an out-of-order command PDU for later delivery. */
void iscsi_conn_rx_hold(struct iscsi_conn *c);
/* Formats a socket address as "1.2.3.4:3260" / "[::1]:3260". */
void iscsi_sockaddr_format(const struct sockaddr_storage *sa, char *out,
			   size_t outlen);

/* reject.c */
void iscsi_conn_reject(struct iscsi_conn *c, uint8_t reason,
		       const uint8_t *bhs);
void iscsi_conn_reject_close(struct iscsi_conn *c, uint8_t reason,
			     const uint8_t *bhs);
void iscsi_conn_send_async_logout(struct iscsi_conn *c, uint16_t secs);

/* session.c */
extern pthread_mutex_t iscsi_registry_lock;
void iscsi_registry_add_conn(struct iscsi_conn *c);
void iscsi_registry_del_conn(struct iscsi_conn *c);
size_t iscsi_registry_post_all(reactor_msg_fn fn);
bool iscsi_registry_empty_locked(void);
struct iscsi_session *iscsi_session_new(struct iscsi_conn *c);
/* -EAGAIN: an older session with the same initiator, ISID and target is
 * being closed (reinstatement); retry later. -EBUSY: no free TSIH. */
int iscsi_session_register(struct iscsi_session *s);
void iscsi_session_end(struct iscsi_session *s);
/* 0: no session with that TSIH and ISID; 1: there is one. */
int iscsi_session_tsih_exists(const uint8_t isid[6], const char *initiator,
			      uint16_t tsih);

enum iscsi_cmdsn_verdict {
	ISCSI_CMDSN_NOW,    /* deliver (ExpCmdSN advanced if non-immediate) */
	ISCSI_CMDSN_LATER,  /* in the window but ahead: hold it */
	ISCSI_CMDSN_IGNORE, /* outside the window or a duplicate: drop */
};
enum iscsi_cmdsn_verdict iscsi_session_cmdsn(struct iscsi_session *s,
					     bool immediate, uint32_t cmdsn);
void iscsi_session_update_window(struct iscsi_conn *c);
struct iscsi_pending *iscsi_session_hold_alloc(struct iscsi_session *s,
					       const uint8_t *hdr,
					       uint32_t hdr_len, uint32_t dlen);
void iscsi_session_hold_commit(struct iscsi_session *s,
			       struct iscsi_pending *pd);
void iscsi_session_hold_free(struct iscsi_session *s, struct iscsi_pending *pd);
/* RefCmdSN handling for ABORT TASK of a task never seen. */
bool iscsi_session_cmdsn_declare_received(struct iscsi_session *s,
					  uint32_t cmdsn, uint32_t limit);
void iscsi_session_drain(struct iscsi_conn *c);
void iscsi_session_pending_free(struct iscsi_session *s);

/* login.c */
int iscsi_login_start(struct iscsi_conn *c);
void iscsi_login_rx(struct iscsi_conn *c, const uint8_t *bhs,
		    const uint8_t *data, uint32_t dlen);
/* Fails the login with status (class << 8 | detail) and closes. */
void iscsi_login_reply_error(struct iscsi_conn *c, const uint8_t *bhs,
			     uint16_t status);
void iscsi_login_free(struct iscsi_conn *c);

/* scsi_task.c */
void iscsi_scsi_cmd_rx_header(struct iscsi_conn *c);
void iscsi_scsi_cmd_rx_done(struct iscsi_conn *c);
void iscsi_data_out_rx_header(struct iscsi_conn *c);
void iscsi_data_out_rx_done(struct iscsi_conn *c);
struct iscsi_task *iscsi_task_find(struct iscsi_conn *c, uint32_t itt);
/* Stops a task without a response (TMF, connection loss). */
void iscsi_task_abort(struct iscsi_task *t);
/* Whether the task is in the SCSI task set: prepared, not failed, not
 * aborted, its status not yet decided (QUERY TASK, RFC 7144). */
bool iscsi_task_in_task_set(const struct iscsi_task *t);
/* What the SCSI core calls to abort tasks on behalf of another nexus. */
extern const struct scsi_nexus_ops iscsi_nexus_ops;
void iscsi_task_abort_all(struct iscsi_conn *c);
void iscsi_task_free(struct iscsi_task *t);
void iscsi_task_pool_destroy(struct iscsi_conn *c);
/* Tasks that still need the wire or the core (logout waits for zero). */
unsigned iscsi_task_busy_count(struct iscsi_conn *c);

/* scsi_rsp.c */
void iscsi_task_respond(struct iscsi_task *t);
/* The task no longer occupies the command window. */
void iscsi_task_leave_window(struct iscsi_task *t);

/* nop.c */
void iscsi_nop_out_rx(struct iscsi_conn *c, const uint8_t *bhs,
		      const uint8_t *data, uint32_t dlen);
void iscsi_nop_start(struct iscsi_conn *c);
void iscsi_nop_stop(struct iscsi_conn *c);

/* text.c */
void iscsi_text_rx(struct iscsi_conn *c, const uint8_t *bhs,
		   const uint8_t *data, uint32_t dlen);
void iscsi_text_xchg_free(struct iscsi_conn *c);

/* logout.c */
void iscsi_logout_rx(struct iscsi_conn *c, const uint8_t *bhs);
void iscsi_logout_check(struct iscsi_conn *c);

/* tmf.c */
void iscsi_tmf_rx(struct iscsi_conn *c, const uint8_t *bhs);
/* Sends the held task management responses whose tasks have ended. */
void iscsi_tmf_check(struct iscsi_conn *c);
/* The connection closes: held responses are dropped. */
void iscsi_tmf_conn_close(struct iscsi_conn *c);

/* portal.c */
/* in_loop: called from inside the running main reactor. */
void iscsi_portal_close_all(bool in_loop);
/* Whether the address is a wildcard (0.0.0.0, ::). */
bool iscsi_sockaddr_is_wildcard(const struct sockaddr_storage *ss);
/* Port of a socket address (host order). */
uint16_t iscsi_sockaddr_port(const struct sockaddr_storage *ss);
/* Parses "ADDR:PORT" / "[V6ADDR]:PORT"; 0 or -EINVAL. */
int iscsi_portal_parse(const char *addr, struct sockaddr_storage *ss,
		       socklen_t *len);
/* Whether a listener accepts connections for addr (the same address, or
 * a wildcard listener of its family on its port). */
bool iscsi_portal_serves(const char *addr);

#endif
