/*
 * qmgr.c - the queue manager (see qmgr.h for the contract)
 *
 * Everything that touches the disk or the network runs as a job on the
 * loop's threads: the intake of a message (move to active/, read, route),
 * each delivery (with the state update and the DSN for its failures),
 * and the end of a message (delete, or defer, or expire). The loop thread
 * only keeps the books: which messages are in memory, which next hops
 * have jobs waiting, how many run.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/inotify.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "bounce.h"
#include "deliver_maildir.h"
#include "dns.h"
#include "log.h"
#include "mem.h"
#include "qmgr.h"
#include "smtp_client.h"
#include "transport.h"

/* the most messages in memory at once (each may hold up to 256 KiB of
 * body in memory, the rest in a temporary file); more wait in
 * incoming/ */
#define QMGR_ACTIVE_MAX	1000
#define QMGR_CACHE_TICK_MS 500	/* how often idle connections are checked */

struct qmgr_dest;
struct qmgr_msg;

/* one delivery: some recipients of one message to one next hop */
struct qmgr_job {
	struct qmgr *qm;
	struct qmgr_msg *msg;
	struct qmgr_dest *dest;
	struct qmgr_job *next;
	struct transport t;
	size_t *idx;			/* recipients (indexes) */
	size_t n;
	struct smtp_rcpt *res;		/* n results */
	time_t started;
	/* jobs of one message may run at once: each allocates from its
	 * own arena (made and freed on the loop thread) */
	struct arena *arena;
	const char *last_why;		/* a deferral reason, in arena */
};

/* a next hop: its waiting jobs and how many run */
struct qmgr_dest {
	char *nexthop;
	struct qmgr_job *head, *tail;
	unsigned running;
	struct qmgr_dest *next;
};

/* a message in memory (in active/) */
struct qmgr_msg {
	struct qmgr *qm;
	char id[QUEUE_ID_LEN + 1];
	struct arena *arena;
	struct queue_entry e;
	bool loaded;			/* intake done and good */
	bool gone;			/* vanished or unreadable */
	unsigned jobs_left;
	const char *last_why;		/* last deferral reason */
	struct qmgr_job *routed;	/* from the intake, to schedule */
	bool again;			/* reappeared in incoming/ while in
					   memory (a flush): take it again */
	struct qmgr_msg *prev, *next;
};

struct qmgr {
	struct evloop *loop;
	const struct mta_conf *conf;
	struct queue *queue;
	struct dns *dns;
	struct tls_client *tls;
	struct transport_resolver resolver;
	struct smtp_client_settings smtp;
	int inotify_fd;
	struct evloop_watch *inotify_watch;
	struct evloop_timer *scan_timer;
	struct evloop_timer *cache_timer;	/* idle connections */
	bool expiring;			/* a cache expiry job runs */
	struct qmgr_msg *msgs;
	size_t n_msgs;
	struct qmgr_dest *dests;
	unsigned running;
	bool stopping;
	bool rescan;			/* incoming/ needs a full look */
};

static void qmgr_schedule(struct qmgr *qm);
static void qmgr_message_end(struct qmgr_msg *m);
static void qmgr_intake(struct qmgr *qm, const char *id);

/* --- messages ---------------------------------------------------------- */

/* qmgr_find - the message with this id in memory, or NULL */
static struct qmgr_msg *
qmgr_find(struct qmgr *qm, const char *id)
{
	struct qmgr_msg *m;

	for (m = qm->msgs; m != NULL; m = m->next)
		if (strcmp(m->id, id) == 0)
			return m;
	return NULL;
}

/* qmgr_forget - the message leaves memory */
static void
qmgr_forget(struct qmgr_msg *m)
{
	struct qmgr *qm = m->qm;
	char id[QUEUE_ID_LEN + 1];
	bool again = m->again;

	snprintf(id, sizeof(id), "%s", m->id);
	if (m->prev != NULL)
		m->prev->next = m->next;
	else
		qm->msgs = m->next;
	if (m->next != NULL)
		m->next->prev = m->prev;
	qm->n_msgs--;
	arena_destroy(&m->arena);
	free(m);
	if (again)
		qmgr_intake(qm, id);
	if (qm->rescan)
		qmgr_schedule(qm);
}

/* qmgr_dest_get - the next hop's record, made on first use */
static struct qmgr_dest *
qmgr_dest_get(struct qmgr *qm, const char *nexthop)
{
	struct qmgr_dest *d;

	for (d = qm->dests; d != NULL; d = d->next)
		if (strcmp(d->nexthop, nexthop) == 0)
			return d;
	d = xcalloc(1, sizeof(*d));
	d->nexthop = xstrdup(nexthop);
	d->next = qm->dests;
	qm->dests = d;
	return d;
}

/* qmgr_pending - a recipient state still to deliver: 'P', or 'W'
 * (pending, its delay DSN sent) */
static bool
qmgr_pending(char state)
{
	return state == 'P' || state == 'W';
}

/* --- intake -------------------------------------------------------------- */

/*
 * qmgr_route - group the message's pending recipients by next hop into
 * jobs (job thread); false when a recipient cannot be routed now (a
 * table error): the message is deferred whole
 */
static bool
qmgr_route(struct qmgr_msg *m)
{
	struct qmgr *qm = m->qm;
	const struct message *msg = m->e.msg;
	struct qmgr_job *jobs = NULL, *j;
	size_t i;

	for (i = 0; i < msg->n_rcpts; i++) {
		struct transport t;
		const char *why;

		if (!qmgr_pending(m->e.rcpt_states[i]))
			continue;
		if (transport_resolve(&qm->resolver, msg->rcpts[i].addr,
		    m->arena, &t, &why) != TABLE_FOUND) {
			m->last_why = arena_printf(m->arena, "4.3.0 %s", why);
			log_msg(LOG_WARNING, m->id, "to=<%s>: %s",
			    msg->rcpts[i].addr, why);
			return false;
		}
		/* one job per next hop; error: transports with different
		 * texts (and Maildir templates) are different jobs */
		for (j = jobs; j != NULL; j = j->next)
			if (strcmp(j->t.nexthop, t.nexthop) == 0 &&
			    (t.kind != TRANSPORT_MAILDIR ||
			    strcmp(j->t.maildir, t.maildir) == 0) &&
			    (t.kind != TRANSPORT_ERROR ||
			    (strcmp(j->t.text, t.text) == 0 &&
			    strcmp(j->t.status, t.status) == 0)))
				break;
		if (j == NULL) {
			j = arena_alloc(m->arena, sizeof(*j));
			j->qm = qm;
			j->msg = m;
			j->t = t;
			j->idx = arena_alloc(m->arena,
			    msg->n_rcpts * sizeof(*j->idx));
			j->next = jobs;
			jobs = j;
		}
		j->idx[j->n++] = i;
	}
	m->routed = jobs;
	return true;
}

/* qmgr_intake_work - move to active/, read, route (job thread) */
static void
qmgr_intake_work(void *arg)
{
	struct qmgr_msg *m = arg;
	struct qmgr *qm = m->qm;
	const char *why = NULL;
	int r;

	r = queue_move(qm->queue, m->id, QUEUE_INCOMING, QUEUE_ACTIVE);
	if (r <= 0) {
		if (r < 0)
			log_msg(LOG_WARNING, m->id, "cannot move to active: "
			    "%s", strerror(errno));
		m->gone = true;
		return;
	}
	r = queue_read(qm->queue, m->id, true, qm->conf->set.temp_dir,
	    m->arena, &m->e, &why);
	if (r <= 0) {
		if (r < 0) {
			log_msg(LOG_WARNING, m->id, "unreadable (%s): moved "
			    "to corrupt/", why);
			queue_move(qm->queue, m->id, QUEUE_ACTIVE,
			    QUEUE_CORRUPT);
		}
		m->gone = true;
		return;
	}
	if (m->e.queue != QUEUE_ACTIVE) {
		/* held or moved by an admin in between */
		m->gone = true;
		return;
	}
	m->loaded = qmgr_route(m);
}

/* qmgr_intake_done - queue the routed jobs (loop thread) */
static void
qmgr_intake_done(void *arg)
{
	struct qmgr_msg *m = arg;
	struct qmgr_job *j, *next;

	if (m->gone) {
		qmgr_forget(m);
		return;
	}
	if (!m->loaded || m->routed == NULL) {
		/* nothing to deliver now: straight to the end */
		qmgr_message_end(m);
		return;
	}
	for (j = m->routed; j != NULL; j = next) {
		next = j->next;
		j->next = NULL;
		j->dest = qmgr_dest_get(m->qm, j->t.nexthop);
		if (j->dest->tail != NULL)
			j->dest->tail->next = j;
		else
			j->dest->head = j;
		j->dest->tail = j;
		m->jobs_left++;
	}
	m->routed = NULL;
	qmgr_schedule(m->qm);
}

/* qmgr_intake - take message id from incoming/ */
static void
qmgr_intake(struct qmgr *qm, const char *id)
{
	struct qmgr_msg *m;

	if (qm->stopping)
		return;
	if ((m = qmgr_find(qm, id)) != NULL) {
		/* still finishing (e.g. flushed back as it was deferred):
		 * taken again when it leaves memory */
		m->again = true;
		return;
	}
	if (qm->n_msgs >= QMGR_ACTIVE_MAX) {
		qm->rescan = true;	/* it waits in incoming/ */
		return;
	}
	m = xcalloc(1, sizeof(*m));
	m->qm = qm;
	snprintf(m->id, sizeof(m->id), "%s", id);
	m->arena = arena_create();
	m->next = qm->msgs;
	if (m->next != NULL)
		m->next->prev = m;
	qm->msgs = m;
	qm->n_msgs++;
	evloop_job_submit(qm->loop, qmgr_intake_work, qmgr_intake_done, m);
}

/* qmgr_intake_one - queue_due callback for incoming/ */
static bool
qmgr_intake_one(const char *id, time_t mtime, void *ctx)
{
	struct qmgr *qm = ctx;

	(void)mtime;
	qmgr_intake(qm, id);
	return qm->n_msgs < QMGR_ACTIVE_MAX;
}

/* --- delivery ---------------------------------------------------------- */

/* qmgr_result - one recipient's result from a status and text */
static void
qmgr_result(struct smtp_rcpt *r, enum deliver_status st, const char *dsn,
    const char *text)
{
	r->result.status = st;
	r->result.dsn = dsn;
	r->result.text = text;
}

/* qmgr_postmaster - double_bounce_recipient as an address */
static const char *
qmgr_postmaster(const struct mta_settings *set, struct arena *arena)
{
	return strchr(set->double_bounce_recipient, '@') != NULL ?
	    set->double_bounce_recipient : arena_printf(arena, "%s@%s",
	    set->double_bounce_recipient, set->myhostname);
}

/*
 * qmgr_dsn_send - a DSN about recipients br[0..k) of m queued into
 * incoming/ (job thread), logged as Postfix does ("sender KIND
 * notification: ID"); false with a warning when it cannot be made or
 * queued. return_limit 0: the original's headers only.
 */
static bool
qmgr_dsn_send(struct qmgr_msg *m, const struct bounce_rcpt *br, size_t k,
    uint64_t return_limit, const char *kind, struct arena *arena)
{
	struct qmgr *qm = m->qm;
	const struct mta_settings *set = &qm->conf->set;
	struct bounce_request rq = {
		.orig = m->e.msg,
		.qid = m->id,
		.arrival = (time_t)(m->e.arrival_us / 1000000),
		.reporting_mta = set->myhostname,
		.postmaster = qmgr_postmaster(set, arena),
		.double_bounce = *m->e.msg->sender == '\0',
		.rcpts = br,
		.n_rcpts = k,
		.return_limit = return_limit,
		.temp_dir = set->temp_dir,
		.spool_memory = set->spool_memory,
	};
	struct message *dsn;
	const char *why;
	char id[QUEUE_ID_LEN + 1];

	if ((dsn = bounce_compose(&rq, arena, &why)) == NULL) {
		log_msg(LOG_WARNING, m->id, "cannot make a %s notification: "
		    "%s", kind, why);
		return false;
	}
	queue_id_new(qm->queue, id);
	if (!queue_store(qm->queue, dsn, NULL, QUEUE_INCOMING, id)) {
		log_msg(LOG_WARNING, m->id, "cannot queue a %s notification: "
		    "%s", kind, strerror(errno));
		return false;
	}
	log_msg(LOG_INFO, m->id, "sender %s notification: %s", kind, id);
	return true;
}

/* qmgr_bounce - a DSN for the failed recipients of job j (job thread);
 * false when it could not be queued (the recipients then stay pending) */
static bool
qmgr_bounce(struct qmgr_job *j, const size_t *failed, size_t n)
{
	struct qmgr_msg *m = j->msg;
	const struct message *msg = m->e.msg;
	const char *postmaster;
	struct bounce_rcpt *br;
	size_t i, k = 0;
	bool double_bounce = *msg->sender == '\0';

	br = arena_alloc(j->arena, (n ? n : 1) * sizeof(*br));
	for (i = 0; i < n; i++) {
		const struct message_rcpt *r = &msg->rcpts[failed[i]];
		const struct smtp_rcpt *res = NULL;

		for (size_t x = 0; x < j->n; x++)
			if (j->idx[x] == failed[i])
				res = &j->res[x];
		if (!double_bounce && !bounce_wanted(r->notify,
		    BOUNCE_FAILED))
			continue;
		br[k].addr = r->addr;
		br[k].orcpt = r->orcpt;
		br[k].action = BOUNCE_FAILED;
		br[k].status = res ? res->result.dsn : "5.0.0";
		br[k].diagnostic = res ? (res->diagnostic ? res->diagnostic :
		    res->result.text) : NULL;
		br[k].remote_mta = res ? res->remote_mta : NULL;
		br[k].last_attempt = time(NULL);
		k++;
	}
	if (k == 0)
		return true;	/* NOTIFY=NEVER or not FAILURE */
	if (double_bounce) {
		/* a bounce that cannot be delivered goes to postmaster; one
		 * to postmaster that cannot is logged and dropped, never
		 * bounced again */
		postmaster = qmgr_postmaster(&j->qm->conf->set, j->arena);
		for (i = 0; i < k; i++)
			if (strcasecmp(br[i].addr, postmaster) != 0)
				break;
		if (i == k) {
			log_msg(LOG_WARNING, m->id, "undeliverable double "
			    "bounce to <%s>: dropped", postmaster);
			return true;
		}
	}
	return qmgr_dsn_send(m, br, k, j->qm->conf->set.bounce_size_limit,
	    "non-delivery", j->arena);
}

/*
 * qmgr_success - NOTIFY=SUCCESS recipients delivered by this job get a
 * DSN (job thread): "delivered" for a final delivery (Maildir, LMTP),
 * "relayed" for SMTP to a server that did not take the DSN request
 * (one that did reports success itself). Best effort: a success DSN that
 * cannot be queued is logged, the delivery stands.
 */
static void
qmgr_success(struct qmgr_job *j, const size_t *done, size_t n_done)
{
	struct qmgr_msg *m = j->msg;
	const struct message *msg = m->e.msg;
	struct bounce_rcpt *br;
	size_t i, x, k = 0;

	if (*msg->sender == '\0' || n_done == 0)
		return;
	br = arena_alloc(j->arena, n_done * sizeof(*br));
	for (i = 0; i < n_done; i++) {
		const struct message_rcpt *r = &msg->rcpts[done[i]];
		const struct smtp_rcpt *res = NULL;
		bool final;

		if (!bounce_wanted(r->notify, BOUNCE_DELIVERED))
			continue;
		for (x = 0; x < j->n; x++)
			if (j->idx[x] == done[i])
				res = &j->res[x];
		final = j->t.kind == TRANSPORT_MAILDIR ||
		    (res != NULL && res->final);
		if (j->t.kind == TRANSPORT_DISCARD ||
		    (!final && res != NULL && res->dsn_passed))
			continue;
		br[k].addr = r->addr;
		br[k].orcpt = r->orcpt;
		br[k].action = final ? BOUNCE_DELIVERED : BOUNCE_RELAYED;
		br[k].status = "2.0.0";
		br[k].diagnostic = res ? res->diagnostic : NULL;
		br[k].remote_mta = res ? res->remote_mta : NULL;
		br[k].last_attempt = time(NULL);
		k++;
	}
	if (k > 0)
		(void)qmgr_dsn_send(m, br, k, 0, "delivery status", j->arena);
}

/*
 * qmgr_delay_warn - once a message has waited delay_warning_time, its
 * pending recipients ('P') get one "delayed" DSN (job thread), headers
 * only, with the last deferral reason and when we give up; they are
 * marked 'W' in the queue file so that a restart never warns twice.
 * Never for the null sender (nobody to tell) and never for recipients
 * whose NOTIFY leaves out DELAY. A DSN that cannot be queued is tried
 * again at the next deferral.
 */
static void
qmgr_delay_warn(struct qmgr_msg *m, const size_t *pending, size_t n,
    time_t now)
{
	struct qmgr *qm = m->qm;
	const struct mta_settings *set = &qm->conf->set;
	const struct message *msg = m->e.msg;
	time_t arrival = (time_t)(m->e.arrival_us / 1000000);
	const char *status = "4.0.0", *diagnostic = m->last_why;
	struct bounce_rcpt *br;
	size_t i, k = 0, nw = 0, *warn;

	if (set->delay_warning_time <= 0 ||
	    (double)(now - arrival) < set->delay_warning_time)
		return;
	warn = arena_alloc(m->arena, (n + 1) * sizeof(*warn));
	br = arena_alloc(m->arena, (n + 1) * sizeof(*br));
	if (diagnostic != NULL && diagnostic[0] == '4' &&
	    strcspn(diagnostic, " ") > 4) {
		/* last_why is "4.x.y text" */
		status = arena_strndup(m->arena, diagnostic,
		    strcspn(diagnostic, " "));
		diagnostic += strcspn(diagnostic, " ");
		diagnostic += strspn(diagnostic, " ");
	}
	for (i = 0; i < n; i++) {
		const struct message_rcpt *r = &msg->rcpts[pending[i]];

		if (m->e.rcpt_states[pending[i]] != 'P')
			continue;
		warn[nw++] = pending[i];
		if (*msg->sender == '\0' || !bounce_wanted(r->notify,
		    BOUNCE_DELAYED))
			continue;
		br[k].addr = r->addr;
		br[k].orcpt = r->orcpt;
		br[k].action = BOUNCE_DELAYED;
		br[k].status = status;
		br[k].diagnostic = diagnostic;
		br[k].last_attempt = now;
		br[k].retry_until = arrival +
		    (time_t)set->maximal_queue_lifetime;
		k++;
	}
	if (nw == 0 || (k > 0 && !qmgr_dsn_send(m, br, k, 0, "delay",
	    m->arena)))
		return;
	if (queue_set_rcpt_states(qm->queue, &m->e, warn, nw, 'W') < 0) {
		log_msg(LOG_WARNING, m->id, "cannot record the delay "
		    "notification: %s", strerror(errno));
		return;
	}
	for (i = 0; i < nw; i++)
		m->e.rcpt_states[warn[i]] = 'W';
}

/*
 * qmgr_tls_level - the TLS level for a next hop: smtp_tls_policy_maps
 * asked for its destination, then each parent domain as ".parent" (the
 * value's first word is the level), else smtp_tls_security_level. false
 * with *why_r on a table error or a bad value (the delivery defers:
 * never a weaker level than the admin asked for).
 */
static bool
qmgr_tls_level(struct qmgr *qm, const struct transport *t,
    struct arena *arena, enum smtp_tls_level *r, const char **why_r)
{
	static const char *const names[] = {
		[SMTP_TLS_NONE] = "none",
		[SMTP_TLS_MAY] = "may",
		[SMTP_TLS_ENCRYPT] = "encrypt",
		[SMTP_TLS_VERIFY] = "verify",
		[SMTP_TLS_DANE] = "dane",
	};
	struct table *maps = qm->conf->smtp_tls_policy_maps;
	const char *key, *value = NULL, *dot;
	enum table_result tr = TABLE_NOTFOUND;
	size_t n;

	*r = (enum smtp_tls_level)qm->conf->set.smtp_tls_security_level;
	if (maps == NULL || t->host == NULL)
		return true;
	tr = table_lookup(maps, t->host, arena, &value);
	for (dot = strchr(t->host, '.'); tr == TABLE_NOTFOUND && dot != NULL;
	    dot = strchr(dot + 1, '.')) {
		key = dot;
		tr = table_lookup(maps, key, arena, &value);
	}
	if (tr == TABLE_NOTFOUND)
		return true;
	if (tr == TABLE_ERROR) {
		*why_r = arena_printf(arena, "smtp_tls_policy_maps: lookup "
		    "error for %s", t->host);
		return false;
	}
	n = strcspn(value, " \t");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == n && strncasecmp(value, names[i], n)
		    == 0) {
			*r = (enum smtp_tls_level)i;
			return true;
		}
	*why_r = arena_printf(arena, "smtp_tls_policy_maps: bad level "
	    "\"%.*s\" for %s", (int)n, value, t->host);
	log_warn("%s", *why_r);
	return false;
}

/* qmgr_deliver_work - one job: deliver, then record (job thread) */
static void
qmgr_deliver_work(void *arg)
{
	struct qmgr_job *j = arg;
	struct qmgr *qm = j->qm;
	struct qmgr_msg *m = j->msg;
	const struct message *msg = m->e.msg;
	size_t *done, *failed, n_done = 0, n_failed = 0, i;

	j->res = arena_alloc(j->arena, j->n * sizeof(*j->res));
	for (i = 0; i < j->n; i++)
		j->res[i].rcpt = &msg->rcpts[j->idx[i]];
	switch (j->t.kind) {
	case TRANSPORT_SMTP:
	case TRANSPORT_LMTP: {
		struct smtp_tls tls = { .client = qm->tls };
		const char *why;

		if (!qmgr_tls_level(qm, &j->t, j->arena, &tls.level, &why)) {
			for (i = 0; i < j->n; i++)
				qmgr_result(&j->res[i], DELIVER_TEMPFAIL,
				    "4.3.0", why);
			break;
		}
		if (qm->tls == NULL)
			tls.level = SMTP_TLS_NONE;
		smtp_deliver(&qm->smtp, &j->t, &tls, msg, j->res, j->n,
		    j->arena);
		break;
	}
	case TRANSPORT_MAILDIR:
		for (i = 0; i < j->n; i++)
			deliver_maildir(j->t.maildir, msg,
			    msg->rcpts[j->idx[i]].addr,
			    qm->conf->set.myhostname, j->arena,
			    &j->res[i].result);
		break;
	case TRANSPORT_ERROR:
		for (i = 0; i < j->n; i++)
			qmgr_result(&j->res[i], DELIVER_PERMFAIL, j->t.status,
			    *j->t.text ? j->t.text : "delivery refused by "
			    "the transport table");
		break;
	case TRANSPORT_DISCARD:
		for (i = 0; i < j->n; i++)
			qmgr_result(&j->res[i], DELIVER_OK, "2.0.0",
			    *j->t.text ? j->t.text : "discarded");
		break;
	}
	done = arena_alloc(j->arena, j->n * sizeof(*done));
	failed = arena_alloc(j->arena, j->n * sizeof(*failed));
	for (i = 0; i < j->n; i++) {
		if (j->res[i].result.status == DELIVER_OK)
			done[n_done++] = j->idx[i];
		else if (j->res[i].result.status == DELIVER_PERMFAIL)
			failed[n_failed++] = j->idx[i];
		else
			j->last_why = arena_printf(j->arena, "%s %s",
			    j->res[i].result.dsn, j->res[i].diagnostic ?
			    j->res[i].diagnostic : j->res[i].result.text);
	}
	/* the states are on disk before anything else: a crash after this
	 * never delivers these recipients again */
	if (n_done > 0 && queue_set_rcpt_states(qm->queue, &m->e, done,
	    n_done, 'D') < 0)
		log_msg(LOG_WARNING, m->id, "cannot record deliveries: %s",
		    strerror(errno));
	qmgr_success(j, done, n_done);
	if (n_failed > 0 && qmgr_bounce(j, failed, n_failed) &&
	    queue_set_rcpt_states(qm->queue, &m->e, failed, n_failed,
	    'B') < 0)
		log_msg(LOG_WARNING, m->id, "cannot record failures: %s",
		    strerror(errno));
	for (i = 0; i < n_done; i++)
		m->e.rcpt_states[done[i]] = 'D';
	for (i = 0; i < n_failed; i++)
		m->e.rcpt_states[failed[i]] = 'B';
}

/* qmgr_status_name - Postfix's status words */
static const char *
qmgr_status_name(enum deliver_status s)
{
	static const char *const names[] = {
		[DELIVER_OK] = "sent",
		[DELIVER_TEMPFAIL] = "deferred",
		[DELIVER_PERMFAIL] = "bounced",
	};

	return names[s];
}

/* qmgr_deliver_done - log, free the slot, maybe end the message */
static void
qmgr_deliver_done(void *arg)
{
	struct qmgr_job *j = arg;
	struct qmgr *qm = j->qm;
	struct qmgr_msg *m = j->msg;
	time_t now = time(NULL);
	size_t i;

	for (i = 0; i < j->n; i++) {
		const struct smtp_rcpt *r = &j->res[i];

		char use[32] = "";

		if (r->conn_use > 1)
			snprintf(use, sizeof(use), ", conn_use=%u",
			    r->conn_use);
		log_msg(LOG_INFO, m->id, "to=<%s>, relay=%s%s, delay=%lld, "
		    "dsn=%s, status=%s (%s)", r->rcpt->addr,
		    r->remote_mta ? r->remote_mta : j->t.nexthop, use,
		    (long long)(now - (time_t)(m->e.arrival_us / 1000000)),
		    r->result.dsn ? r->result.dsn : "4.0.0",
		    qmgr_status_name(r->result.status),
		    r->diagnostic ? r->diagnostic : r->result.text ?
		    r->result.text : "");
	}
	if (j->last_why != NULL)
		m->last_why = arena_strdup(m->arena, j->last_why);
	j->res = NULL;
	arena_destroy(&j->arena);
	j->dest->running--;
	qm->running--;
	if (--m->jobs_left == 0)
		qmgr_message_end(m);
	qmgr_schedule(qm);
}

/* qmgr_schedule - start the jobs there is room for */
static void
qmgr_schedule(struct qmgr *qm)
{
	const struct mta_settings *set = &qm->conf->set;
	struct qmgr_dest *d;
	bool started = true;

	/* round robin over next hops, one job each per pass */
	while (started && qm->running < set->delivery_threads) {
		started = false;
		for (d = qm->dests; d != NULL &&
		    qm->running < set->delivery_threads; d = d->next) {
			struct qmgr_job *j = d->head;

			if (j == NULL ||
			    d->running >= set->destination_concurrency_limit)
				continue;
			d->head = j->next;
			if (d->head == NULL)
				d->tail = NULL;
			j->next = NULL;
			d->running++;
			qm->running++;
			j->started = time(NULL);
			j->arena = arena_create();
			evloop_job_submit(qm->loop, qmgr_deliver_work,
			    qmgr_deliver_done, j);
			started = true;
		}
	}
	if (qm->rescan && qm->n_msgs < QMGR_ACTIVE_MAX && !qm->stopping) {
		qm->rescan = false;
		if (queue_due(qm->queue, QUEUE_INCOMING, 0, qmgr_intake_one,
		    qm) < 0)
			log_warn("cannot read incoming/: %s", strerror(errno));
	}
	if (qm->stopping && qm->running == 0 && evloop_jobs_pending(qm->loop)
	    == 0)
		evloop_stop(qm->loop);
}

/* --- the end of a message -------------------------------------------- */

/* qmgr_end_work - delete, defer or expire (job thread) */
static void
qmgr_end_work(void *arg)
{
	struct qmgr_msg *m = arg;
	struct qmgr *qm = m->qm;
	const struct mta_settings *set = &qm->conf->set;
	const struct message *msg;
	time_t now = time(NULL), arrival, wait;
	size_t i, n = 0, *pending;

	if (!m->e.msg) {
		m->gone = true;
		return;
	}
	msg = m->e.msg;
	pending = arena_alloc(m->arena, (msg->n_rcpts + 1) * sizeof(*pending));
	for (i = 0; i < msg->n_rcpts; i++)
		if (qmgr_pending(m->e.rcpt_states[i]))
			pending[n++] = i;
	if (n == 0) {
		if (queue_delete(qm->queue, m->id) >= 0)
			log_msg(LOG_INFO, m->id, "removed");
		return;
	}
	arrival = (time_t)(m->e.arrival_us / 1000000);
	if ((double)(now - arrival) >= set->maximal_queue_lifetime) {
		struct qmgr_job j = {
			.qm = qm, .msg = m, .idx = pending, .n = n,
			.arena = m->arena,
		};

		j.res = arena_alloc(m->arena, n * sizeof(*j.res));
		for (i = 0; i < n; i++) {
			j.res[i].rcpt = &msg->rcpts[pending[i]];
			qmgr_result(&j.res[i], DELIVER_PERMFAIL, "4.4.7",
			    arena_printf(m->arena, "delivery time expired%s%s",
			    m->last_why ? ": " : "", m->last_why ?
			    m->last_why : ""));
			log_msg(LOG_INFO, m->id, "to=<%s>, status=expired "
			    "(%s)", msg->rcpts[pending[i]].addr,
			    j.res[i].result.text);
		}
		if (qmgr_bounce(&j, pending, n) &&
		    queue_set_rcpt_states(qm->queue, &m->e, pending, n,
		    'B') >= 0 && queue_delete(qm->queue, m->id) >= 0) {
			log_msg(LOG_INFO, m->id, "removed");
			return;
		}
	}
	qmgr_delay_warn(m, pending, n, now);
	/* the next attempt: as long again as the message has waited,
	 * within the backoff bounds (so the waits double) */
	wait = now - arrival;
	if ((double)wait < set->minimal_backoff_time)
		wait = (time_t)set->minimal_backoff_time;
	if ((double)wait > set->maximal_backoff_time)
		wait = (time_t)set->maximal_backoff_time;
	if (queue_set_time(qm->queue, m->id, QUEUE_ACTIVE, now + wait) < 0 ||
	    queue_move(qm->queue, m->id, QUEUE_ACTIVE, QUEUE_DEFERRED) < 0)
		log_msg(LOG_WARNING, m->id, "cannot defer: %s",
		    strerror(errno));
}

/* qmgr_end_done - the message leaves memory */
static void
qmgr_end_done(void *arg)
{
	qmgr_forget(arg);
}

/* qmgr_message_end - every job of m is done */
static void
qmgr_message_end(struct qmgr_msg *m)
{
	evloop_job_submit(m->qm->loop, qmgr_end_work, qmgr_end_done, m);
}

/* --- watching the queue ----------------------------------------------- */

/* qmgr_inotify - names moved into incoming/ */
static void
qmgr_inotify(struct evloop_watch *w, int fd, unsigned events, void *arg)
{
	struct qmgr *qm = arg;
	char buf[8192] __attribute__((aligned(8)));
	ssize_t n;

	(void)w;
	(void)events;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *ev = (void *)p;

			if (ev->mask & IN_Q_OVERFLOW)
				qm->rescan = true;
			else if (ev->len > 0 && queue_id_valid(ev->name))
				qmgr_intake(qm, ev->name);
			p += sizeof(*ev) + ev->len;
		}
	}
	if (qm->rescan)
		qmgr_schedule(qm);
}

/* qmgr_due_one - a deferred message whose time has come */
static bool
qmgr_due_one(const char *id, time_t mtime, void *ctx)
{
	struct qmgr *qm = ctx;

	(void)mtime;
	if (queue_move(qm->queue, id, QUEUE_DEFERRED, QUEUE_INCOMING) < 0)
		log_msg(LOG_WARNING, id, "cannot move to incoming: %s",
		    strerror(errno));
	return true;
}

/* qmgr_scan - every queue_run_delay: deferred mail due, and incoming/
 * in full (nothing is missed if an event was) */
static void
qmgr_scan(struct evloop_timer *t, void *arg)
{
	struct qmgr *qm = arg;

	if (queue_due(qm->queue, QUEUE_DEFERRED, time(NULL), qmgr_due_one,
	    qm) < 0)
		log_warn("cannot read deferred/: %s", strerror(errno));
	qm->rescan = true;
	qmgr_schedule(qm);
	evloop_timer_arm(t, (uint64_t)(qm->conf->set.queue_run_delay * 1000));
}

/* qmgr_cache_expire_work - QUIT the connections idle too long (job
 * thread: QUIT waits for its reply) */
static void
qmgr_cache_expire_work(void *arg)
{
	struct qmgr *qm = arg;

	smtp_client_cache_expire(qm->smtp.cache, false);
}

/* qmgr_cache_expire_done - the next expiry may start */
static void
qmgr_cache_expire_done(void *arg)
{
	struct qmgr *qm = arg;

	qm->expiring = false;
	if (qm->stopping)
		qmgr_schedule(qm);
}

/* qmgr_cache_tick - now and then, close what idled past its limit */
static void
qmgr_cache_tick(struct evloop_timer *t, void *arg)
{
	struct qmgr *qm = arg;

	if (!qm->expiring && smtp_client_cache_idle(qm->smtp.cache) > 0) {
		qm->expiring = true;
		evloop_job_submit(qm->loop, qmgr_cache_expire_work,
		    qmgr_cache_expire_done, qm);
	}
	evloop_timer_arm(t, QMGR_CACHE_TICK_MS);
}

/* qmgr_back_to_incoming - at start: active/ was left by a crash */
static bool
qmgr_back_to_incoming(const char *id, time_t mtime, void *ctx)
{
	struct qmgr *qm = ctx;

	(void)mtime;
	if (queue_move(qm->queue, id, QUEUE_ACTIVE, QUEUE_INCOMING) < 0)
		log_msg(LOG_WARNING, id, "cannot move to incoming: %s",
		    strerror(errno));
	return true;
}

/* qmgr_new - see qmgr.h */
struct qmgr *
qmgr_new(struct evloop *loop, const struct mta_conf *conf,
    struct queue *queue, char **why_r)
{
	const struct mta_settings *set = &conf->set;
	struct qmgr *qm = xcalloc(1, sizeof(*qm));
	struct dns_settings ds = {
		.servers = set->dns_servers,
		.timeout = set->dns_timeout,
		.attempts = set->dns_attempts,
		.trust_anchor_file = *set->dns_trust_anchor_file ?
		    set->dns_trust_anchor_file : NULL,
		.cache_size = 10000,
	};
	char dir[PATH_MAX];

	qm->inotify_fd = -1;
	qm->loop = loop;
	qm->conf = conf;
	qm->queue = queue;
	qm->resolver.maps = conf->transport_maps;
	qm->resolver.relayhost = set->relayhost;
	if ((qm->dns = dns_create(&ds, why_r)) == NULL)
		goto fail;
	if ((set->smtp_tls_security_level != SMTP_TLS_NONE ||
	    conf->smtp_tls_policy_maps != NULL) &&
	    (qm->tls = tls_client_new(*set->smtp_tls_ca_file ?
	    set->smtp_tls_ca_file : NULL, why_r)) == NULL)
		goto fail;
	qm->smtp.helo_name = set->myhostname;
	qm->smtp.dns = qm->dns;
	qm->smtp.connect_timeout = set->smtp_connect_timeout;
	qm->smtp.helo_timeout = set->smtp_helo_timeout;
	qm->smtp.command_timeout = set->smtp_command_timeout;
	qm->smtp.data_timeout = set->smtp_data_timeout;
	qm->smtp.bind_address = *set->smtp_bind_address ?
	    set->smtp_bind_address : NULL;
	if (set->smtp_connection_cache_time_limit > 0)
		qm->smtp.cache = smtp_client_cache_new(
		    set->smtp_connection_cache_time_limit,
		    set->smtp_connection_reuse_time_limit);
	qm->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (qm->inotify_fd < 0 || inotify_add_watch(qm->inotify_fd,
	    queue_dir_path(queue, QUEUE_INCOMING, dir), IN_MOVED_TO) < 0) {
		*why_r = xasprintf("inotify on %s: %s", dir, strerror(errno));
		goto fail;
	}
	qm->inotify_watch = evloop_watch(loop, qm->inotify_fd, EVLOOP_READ,
	    qmgr_inotify, qm);
	if (qm->inotify_watch == NULL) {
		*why_r = xasprintf("cannot watch inotify: %s",
		    strerror(errno));
		goto fail;
	}
	queue_due(queue, QUEUE_ACTIVE, 0, qmgr_back_to_incoming, qm);
	qm->scan_timer = evloop_timer_new(loop, qmgr_scan, qm);
	evloop_timer_arm(qm->scan_timer, 0);
	if (qm->smtp.cache != NULL) {
		qm->cache_timer = evloop_timer_new(loop, qmgr_cache_tick, qm);
		evloop_timer_arm(qm->cache_timer, QMGR_CACHE_TICK_MS);
	}
	return qm;
fail:
	qmgr_free(&qm);
	return NULL;
}

/* qmgr_stop - finish the running jobs, take nothing new */
void
qmgr_stop(struct qmgr *qm)
{
	qm->stopping = true;
	evloop_timer_cancel(qm->scan_timer);
	if (qm->cache_timer != NULL)
		evloop_timer_cancel(qm->cache_timer);
	qmgr_schedule(qm);
}

/* qmgr_free - after the loop */
void
qmgr_free(struct qmgr **qmp)
{
	struct qmgr *qm = *qmp;
	struct qmgr_dest *d, *dn;

	if (qm == NULL)
		return;
	*qmp = NULL;
	while (qm->msgs != NULL) {
		struct qmgr_msg *m = qm->msgs;

		qm->msgs = m->next;
		arena_destroy(&m->arena);
		free(m);
	}
	for (d = qm->dests; d != NULL; d = dn) {
		dn = d->next;
		free(d->nexthop);
		free(d);
	}
	evloop_unwatch(&qm->inotify_watch);
	evloop_timer_free(&qm->scan_timer);
	evloop_timer_free(&qm->cache_timer);
	smtp_client_cache_free(&qm->smtp.cache);
	if (qm->inotify_fd >= 0)
		close(qm->inotify_fd);
	tls_client_free(&qm->tls);
	dns_destroy(&qm->dns);
	free(qm);
}
