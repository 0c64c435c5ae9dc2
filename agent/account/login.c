/*
 * login.c: the account's side of a login (login/ runs the flows).  A login
 * occupies the account's single flight like a refresh does, and its
 * outcome stays for LOGIN_WAIT and the doctor after it has ended.
 */
#include <stdlib.h>

#include "account/account_internal.h"
#include "core/log.h"

int account_login_begin(struct account *acct, void *data,
			account_login_cancel_cb cancel, struct agent_err *err)
{
	if (acct->op == ACCOUNT_OP_REFRESH)
		return agent_err_set(err, XO_ERR_BUSY,
				     "%s: a refresh is in flight; try again "
				     "in a moment",
				     acct->cfg.name);
	account_set_op(acct, ACCOUNT_OP_LOGIN);
	acct->login = data;
	acct->login_cancel = cancel;
	account_login_outcome_clear(acct);
	return 0;
}

/* The outcome's record, made when there is one to keep: most accounts
   never log in while the agent runs, and it is a KiB each. */
static struct agent_err *outcome_slot(struct account *acct)
{
	if (acct->login_outcome == NULL)
		acct->login_outcome = malloc(sizeof(*acct->login_outcome));
	return acct->login_outcome;
}

void *account_login(const struct account *acct)
{
	return acct->op == ACCOUNT_OP_LOGIN ? acct->login : NULL;
}

/* Empties the slot; the login's data is login/'s to free. */
static void login_detach(struct account *acct)
{
	account_set_op(acct, ACCOUNT_OP_NONE);
	acct->login = NULL;
	acct->login_cancel = NULL;
	acct->login_stored = NULL;
}

void account_login_end(struct account *acct, const struct agent_err *outcome)
{
	login_detach(acct);
	if (outcome_slot(acct) != NULL)
		*acct->login_outcome = *outcome;
	if (outcome->code == 0)
		log_info("%s: logged in", acct->cfg.name);
	else
		log_error("%s: login failed: %s", acct->cfg.name,
			  agent_err_text(outcome));
	account_wake(acct, ACCOUNT_CHANGED);
	account_schedule(acct);
}

void account_login_cancel(struct account *acct)
{
	account_login_cancel_cb cancel = acct->login_cancel;
	void *data = acct->login;

	if (acct->op != ACCOUNT_OP_LOGIN)
		return;
	login_detach(acct);
	if (cancel != NULL)
		cancel(acct, data);
	if (outcome_slot(acct) != NULL)
		agent_err_set(acct->login_outcome, XO_ERR_LOGIN_NEEDED,
			      "%s: the login was cancelled", acct->cfg.name);
}

const struct agent_err *account_login_outcome(const struct account *acct)
{
	static const struct agent_err none = {0};

	return acct->login_outcome != NULL ? acct->login_outcome : &none;
}

void account_login_outcome_clear(struct account *acct)
{
	free(acct->login_outcome);
	acct->login_outcome = NULL;
}
