/*
 * send.h: sending mail through an account (`xoauth sendmail`, xo_send();
 * PROTOCOL.md 4.11, docs/SENDING.md).
 *
 * The transports live in the agent, which holds the tokens, TLS and
 * libcurl already: a client hands over the envelope and the message
 * (SEND, then SEND_DATA pieces, then SEND_END) and gets SENT or the
 * reason.  The message goes out by the account's `send` transport:
 * SMTP submission with XOAUTH2, Microsoft Graph's sendMail, or the
 * Gmail API's messages.send; `auto` tries SMTP and, when Exchange
 * Online refuses SMTP AUTH before any MAIL FROM, sends through Graph.
 * Nothing is ever sent twice: no send is retried once its message may
 * have reached the server.
 */
#ifndef XO_SEND_SEND_H
#define XO_SEND_SEND_H

struct agent;
struct agent_request;

/* The messages being received and sent; 0 or XO_ERR_NOMEM. */
int send_outbox_new(struct agent *a);
/* The agent stops: every send in flight is dropped unanswered. */
void send_outbox_free(struct agent *a);

/* SEND, SEND_DATA and SEND_END (daemon/requests.c's table). */
void send_handle_begin(struct agent_request *q);
void send_handle_data(struct agent_request *q);
void send_handle_end(struct agent_request *q);

#endif
