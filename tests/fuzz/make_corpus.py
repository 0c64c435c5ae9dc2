#!/usr/bin/env python3
"""Seed corpora for the fuzz targets, made from valid inputs.

    make_corpus.py OUT_DIR BUILD_TESTS_DIR

writes OUT_DIR/TARGET/NAME for every target of tests/fuzz/fuzz.cmake: the
replies Microsoft, Google and oidc-provider send (shapes from
shared/reference/providers.md and the providers' documentation), frames of
every message type of proto/PROTOCOL.md, the configs of xoauth.conf(5)'s
EXAMPLES, JWTs with the claims Exchange Online and Google put in them,
SMTP and IMAP dialogues as Exchange Online, Gmail and Dovecot speak them,
vault images sealed by the vault's own code (BUILD_TESTS_DIR/
fuzz_vault_seal, under fuzz_vault's test keys), and the requests browsers
and curl send to the loopback redirect.  The corpora are generated, never
committed; tests/fuzz/regressions/ holds the inputs worth keeping.
"""
import base64
import json
import os
import re
import struct
import subprocess
import sys

TOP = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))


def b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def jwt(claims, header=None):
    """A JWT as providers issue them: header.payload.signature."""
    header = header or {"typ": "JWT", "alg": "RS256",
                        "kid": "nOo3ZDrODXEK1jKWhXslHR_KXEg"}
    return ".".join([b64url(json.dumps(header).encode()),
                     b64url(json.dumps(claims).encode()),
                     b64url(b"\x8f" * 256)])


# ---- OAuth replies (agent/oauth/pure/reply.c) ----
# fuzz_oauth_reply reads one byte as an index into its status table, one
# into its Retry-After table, then the body.
STATUS = {200: 0, 400: 6, 401: 7, 403: 8, 404: 9, 408: 11, 429: 14, 500: 16,
          502: 17, 503: 18}
RETRY = {None: 0, 30: 3}

TID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
OID = "00000000-0000-0000-66f3-3332eca7ea81"
EXP = 1700003599

MS_ID_TOKEN = jwt({
    "aud": "3f1a7c2e-0000-4000-8000-00000000abcd",
    "iss": "https://login.microsoftonline.com/%s/v2.0" % TID,
    "iat": 1700000000, "nbf": 1700000000, "exp": EXP,
    "name": "Alice", "oid": OID, "preferred_username": "alice@contoso.com",
    "sub": "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ", "tid": TID,
    "ver": "2.0"})
GOOGLE_ID_TOKEN = jwt({
    "iss": "https://accounts.google.com",
    "azp": "1234-abc.apps.googleusercontent.com",
    "aud": "1234-abc.apps.googleusercontent.com",
    "sub": "110169484474386276334", "email": "alice@gmail.com",
    "email_verified": True, "at_hash": "X_B3Z3Fi4udZ2mf75RWo3w",
    "iat": 1700000000, "exp": EXP})
OIDC_ID_TOKEN = jwt({
    "sub": "alice", "email": "alice@example.com", "at_hash": "Zk3FZ0ixnpQ",
    "aud": "xoauth-test", "exp": EXP, "iat": 1700000000,
    "iss": "http://127.0.0.1:39405"}, {"alg": "RS256", "typ": "JWT",
                                      "kid": "keystore-CHANGE-ME"})

MS_AT = jwt({"aud": "https://outlook.office.com", "ver": "1.0"})
MS_RT = "0.AXoAv4j5cvGGr0GRqy180BHbRyg" + "x" * 700
GOOGLE_AT = "ya29.a0AfB_byC" + "Q" * 180
GOOGLE_RT = "1//0gLmR8v" + "z" * 90


def ms_error(error, code, text, status=400):
    """Microsoft's error reply: error, description, the AADSTS numbers."""
    return status, {
        "error": error,
        "error_description": "AADSTS%d: %s Trace ID: "
        "0a0b0c0d-1111-2222-3333-444455556666 Correlation ID: "
        "9f8e7d6c-aaaa-bbbb-cccc-ddddeeeeffff Timestamp: "
        "2024-05-01 10:00:00Z" % (code, text),
        "error_codes": [code], "timestamp": "2024-05-01 10:00:00Z",
        "trace_id": "0a0b0c0d-1111-2222-3333-444455556666",
        "correlation_id": "9f8e7d6c-aaaa-bbbb-cccc-ddddeeeeffff",
        "error_uri": "https://login.microsoftonline.com/error?code=%d" % code}


TOKEN_REPLIES = {
    "microsoft-token": (200, {
        "token_type": "Bearer",
        "scope": "https://outlook.office.com/IMAP.AccessAsUser.All "
                 "https://outlook.office.com/SMTP.Send",
        "expires_in": 3599, "ext_expires_in": 3599, "access_token": MS_AT,
        "refresh_token": MS_RT, "id_token": MS_ID_TOKEN}),
    "microsoft-refresh-no-id-token": (200, {
        "token_type": "Bearer", "scope": "https://outlook.office.com/SMTP.Send",
        "expires_in": 4377, "ext_expires_in": 4377, "access_token": MS_AT,
        "refresh_token": MS_RT}),
    "google-token": (200, {
        "access_token": GOOGLE_AT, "expires_in": 3599,
        "refresh_token": GOOGLE_RT, "scope": "https://mail.google.com/",
        "token_type": "Bearer", "id_token": GOOGLE_ID_TOKEN}),
    "google-refresh-keeps-refresh-token": (200, {
        "access_token": GOOGLE_AT, "expires_in": 3599,
        "scope": "https://mail.google.com/", "token_type": "Bearer"}),
    "oidc-provider-token": (200, {
        "access_token": "Ec5L7k2bBvRw2t7Ds0n9lqQ1a8Zy3mJx4hGf6eRp0sT",
        "expires_in": 3600, "id_token": OIDC_ID_TOKEN,
        "refresh_token": "Zr9Qk2mN4pL6sT8vX0bD3fH5jK7lM9nP1qR3tV5wY7",
        "scope": "openid email offline_access", "token_type": "Bearer"}),
    "lenient-token-type-and-string-expiry": (200, {
        "access_token": "abc", "token_type": "bearer", "expires_in": "3600"}),
    # expires_in as the fault tests send it (test_expires_in.py): the
    # tokens are taken, the life is planned by the agent.
    "expires-in-zero": (200, {
        "access_token": "abc", "token_type": "Bearer", "expires_in": 0,
        "refresh_token": "def"}),
    "expires-in-negative": (200, {
        "access_token": "abc", "token_type": "Bearer", "expires_in": -3600}),
    "expires-in-ten-years": (200, {
        "access_token": "abc", "token_type": "Bearer", "expires_in": 315360000}),
    "expires-in-missing": (200, {
        "access_token": "abc", "token_type": "Bearer", "refresh_token": "def"}),
    "github-style-pending-with-200": (200, {
        "error": "authorization_pending",
        "error_description": "The authorization request is still pending."}),
    "microsoft-pending": ms_error(
        "authorization_pending", 70016, "OAuth 2.0 device flow error. "
        "Authorization is pending. Continue polling."),
    "microsoft-code-expired": ms_error(
        "expired_token", 70019, "Verification code expired."),
    "microsoft-bad-code": ms_error(
        "bad_verification_code", 70018, "The provided value for the input "
        "parameter 'device_code' is not valid."),
    "microsoft-declined": ms_error(
        "authorization_declined", 70020, "The user declined."),
    "microsoft-revoked": ms_error(
        "invalid_grant", 70008, "The provided authorization code or refresh "
        "token has expired due to inactivity."),
    "microsoft-inactive": ms_error(
        "invalid_grant", 700082, "The refresh token has expired due to "
        "inactivity. The token was issued on 2024-01-01T00:00:00Z and was "
        "inactive for 90.00:00:00."),
    "microsoft-fresh-token-needed": ms_error(
        "invalid_grant", 50173, "The provided grant has expired due to it "
        "being revoked, a fresh auth token is needed."),
    "microsoft-mfa": ms_error(
        "invalid_grant", 50076, "Due to a configuration change made by your "
        "administrator, or because you moved to a new location, you must "
        "use multi-factor authentication to access '00000002-0000-0ff1-"
        "ce00-000000000000'."),
    "microsoft-no-consent": ms_error(
        "invalid_grant", 65001, "The user or administrator has not consented "
        "to use the application with ID '3f1a7c2e-0000-4000-8000-"
        "00000000abcd'."),
    "microsoft-public-client-secret": ms_error(
        "invalid_client", 700025, "Client is public so neither "
        "'client_assertion' nor 'client_secret' should be presented.", 401),
    "microsoft-needs-secret": ms_error(
        "invalid_client", 7000218, "The request body must contain the "
        "following parameter: 'client_assertion' or 'client_secret'.", 401),
    "microsoft-wrong-secret": ms_error(
        "invalid_client", 7000215, "Invalid client secret provided. Ensure "
        "the secret being sent in the request is the client secret value, "
        "not the client secret ID.", 401),
    "microsoft-app-not-found": ms_error(
        "unauthorized_client", 700016, "Application with identifier "
        "'3f1a7c2e-0000-4000-8000-00000000abcd' was not found in the "
        "directory 'contoso'."),
    "microsoft-loop-detected": ms_error(
        "invalid_request", 50196, "The server terminated an operation "
        "because it encountered a client request loop.", 429),
    "microsoft-transient": ms_error(
        "temporarily_unavailable", 90033, "Because of a transient error, "
        "the service is not available.", 503),
    "google-invalid-grant": (400, {
        "error": "invalid_grant", "error_description": "Bad Request"}),
    "google-invalid-rapt": (400, {
        "error": "invalid_grant", "error_description": "reauth related error "
        "(invalid_rapt)", "error_uri": "https://support.google.com/a/answer/"
        "9368756", "error_subtype": "invalid_rapt"}),
    "google-device-scope": (400, {
        "error": "invalid_scope",
        "error_description": "Invalid device flow scope: "
                             "https://mail.google.com/"}),
    "google-slow-down": (428, {"error": "slow_down"}),
    "google-access-denied": (403, {
        "error": "access_denied", "error_description": "Forbidden"}),
    "oidc-provider-invalid-grant": (400, {
        "error": "invalid_grant",
        "error_description": "grant request is invalid"}),
    "oidc-provider-invalid-client": (401, {
        "error": "invalid_client",
        "error_description": "client authentication failed"}),
    "rate-limited": (429, {"error": "rate_limited"}),
}

RAW_REPLIES = {
    "proxy-html-page": (502, b"<html><head><title>502 Bad Gateway</title>"
                             b"</head><body><center><h1>502 Bad Gateway</h1>"
                             b"</center></body></html>\r\n"),
    "empty-503-with-retry-after": (503, b""),
    "bare-401": (401, b"Unauthorized"),
    "not-found": (404, b'{"error":"not_found"}'),
}

DEVICE_REPLIES = {
    "microsoft-device": {
        "user_code": "FQK5HW3UF", "device_code": "FAQABAAEAAAD" + "q" * 120,
        "verification_uri": "https://microsoft.com/devicelogin",
        "expires_in": 900, "interval": 5,
        "message": "To sign in, use a web browser to open the page "
                   "https://microsoft.com/devicelogin and enter the code "
                   "FQK5HW3UF to authenticate."},
    "google-device": {
        "device_code": "AH-1Ng3bq0h6d" + "k" * 80, "user_code": "GQVQ-JKEC",
        "expires_in": 1800, "interval": 5,
        "verification_url": "https://www.google.com/device"},
    "oidc-provider-device": {
        "device_code": "j3Xnq0xS9dKsT4yWmVbL1oR8uE2cF6hG5iJ7kP0aZ3",
        "user_code": "WDJB-MJHT",
        "verification_uri": "http://127.0.0.1:39405/device",
        "verification_uri_complete":
            "http://127.0.0.1:39405/device?user_code=WDJB-MJHT",
        "expires_in": 600},
    "device-with-string-numbers": {
        "device_code": "d", "user_code": "ABCD", "verification_uri":
            "https://example.com/device", "expires_in": "300",
        "interval": "10"},
}


def oauth_seeds():
    seeds = {}
    for name, (status, body) in TOKEN_REPLIES.items():
        retry = 30 if status in (429, 503) else None
        seeds[name] = bytes([STATUS.get(status, 6), RETRY[retry]]) + \
            json.dumps(body).encode()
    for name, (status, body) in RAW_REPLIES.items():
        retry = 30 if status == 503 else None
        seeds[name] = bytes([STATUS[status], RETRY[retry]]) + body
    for name, body in DEVICE_REPLIES.items():
        seeds[name] = bytes([STATUS[200], 0]) + json.dumps(body).encode()
    # Pretty-printed, as some providers send it.
    seeds["microsoft-token-pretty"] = bytes([0, 0]) + json.dumps(
        TOKEN_REPLIES["microsoft-token"][1], indent=2).encode()
    return seeds


# ---- JWT claims (agent/doctor/pure/jwt.c) ----
JWT_CLAIMS = {
    "exchange-v1-delegated": {
        "aud": "https://outlook.office.com",
        "iss": "https://sts.windows.net/%s/" % TID, "iat": 1700000000,
        "nbf": 1700000000, "exp": EXP, "acr": "1", "amr": ["pwd", "mfa"],
        "app_displayname": "xoauth-agent", "appid":
            "3f1a7c2e-0000-4000-8000-00000000abcd", "appidacr": "0",
        "family_name": "Liddell", "given_name": "Alice", "ipaddr":
            "203.0.113.7", "name": "Alice Liddell", "oid": OID, "puid":
            "10032001A2B3C4D5", "scp": "IMAP.AccessAsUser.All SMTP.Send",
        "sid": "0b1c2d3e-0000-0000-0000-000000000000", "sub":
            "kWz3kCIKHRSl3Jb7Vd9zGrg0", "tid": TID, "unique_name":
            "alice@contoso.com", "upn": "alice@contoso.com", "uti":
            "AbCdEfGhIjKlMnOpQrSt", "ver": "1.0", "wids": [
                "b79fbf4d-3ef9-4689-8143-76b194e85509"]},
    "exchange-v2-confidential": {
        "aud": "00000002-0000-0ff1-ce00-000000000000",
        "iss": "https://login.microsoftonline.com/%s/v2.0" % TID,
        "exp": EXP, "azp": "3f1a7c2e-0000-4000-8000-00000000abcd",
        "azpacr": "1", "preferred_username": "alice@contoso.com",
        "scp": "SMTP.Send", "tid": TID, "ver": "2.0"},
    "exchange-app-only": {
        "aud": "https://outlook.office365.com",
        "iss": "https://sts.windows.net/%s/" % TID, "exp": EXP,
        "appid": "3f1a7c2e-0000-4000-8000-00000000abcd", "appidacr": "1",
        "roles": ["SMTP.SendAsApp", "IMAP.AccessAsApp"], "tid": TID,
        "ver": "1.0"},
    "graph-token-for-exchange": {
        "aud": "https://graph.microsoft.com", "exp": EXP,
        "scp": "Mail.Send User.Read openid profile email", "tid": TID,
        "upn": "bob@contoso.com", "ver": "1.0"},
    "google-id-token": json.loads(base64.urlsafe_b64decode(
        GOOGLE_ID_TOKEN.split(".")[1] + "==")),
    "audience-array": {
        "aud": ["https://outlook.office.com", "api://other"], "exp": EXP,
        "email": "alice@example.com"},
}


def jwt_seeds():
    seeds = {}
    for name, claims in JWT_CLAIMS.items():
        seeds[name] = jwt(claims).encode()
        # The target also reads its input as a payload.
        seeds[name + "-payload"] = json.dumps(claims).encode()
    seeds["microsoft-id-token"] = MS_ID_TOKEN.encode()
    seeds["opaque-microsoft-personal"] = b"EwBwA8l6BAAU" + b"7" * 300
    return seeds


# ---- mail server dialogues (agent/doctor/pure/reply.c) ----
# fuzz_doctor_reply reads one byte: bit 0 IMAP, bit 1 one block (else one
# line per libcurl callback).
SMTP, IMAP = 0, 1

EXO_GREETING = (b"220 AM0PR02CA0001.outlook.office365.com Microsoft ESMTP "
                b"MAIL Service ready at Mon, 1 May 2024 10:00:00 +0000 "
                b"[08DC6A1B2C3D4E5F]\r\n")
EXO_EHLO = (b"250-AM0PR02CA0001.outlook.office365.com Hello [203.0.113.7]\r\n"
            b"250-SIZE 157286400\r\n250-PIPELINING\r\n250-DSN\r\n"
            b"250-ENHANCEDSTATUSCODES\r\n250-AUTH LOGIN XOAUTH2\r\n"
            b"250-8BITMIME\r\n250-BINARYMIME\r\n250-CHUNKING\r\n"
            b"250 SMTPUTF8\r\n")
GMAIL_GREETING = b"220 smtp.gmail.com ESMTP a640c23a62f3a-a3e7c1a0b1csm1 - gsmtp\r\n"
GMAIL_EHLO = (b"250-smtp.gmail.com at your service, [203.0.113.7]\r\n"
              b"250-SIZE 35882577\r\n250-8BITMIME\r\n"
              b"250-AUTH LOGIN PLAIN XOAUTH2 PLAIN-CLIENTTOKEN OAUTHBEARER "
              b"XOAUTH\r\n250-ENHANCEDSTATUSCODES\r\n250-PIPELINING\r\n"
              b"250-CHUNKING\r\n250 SMTPUTF8\r\n")



def exo_smtp(reply):
    """Exchange Online's greeting and EHLO, then its reply to AUTH."""
    return SMTP, EXO_GREETING + EXO_EHLO + reply


DIALOGUES = {
    "exchange-smtp-auth-disabled-tenant": exo_smtp(
        b"535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication "
        b"is disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled "
        b"for more information. [AM0PR02CA0001.eurprd02.prod.outlook.com "
        b"2024-05-01T10:00:00.000Z 08DC6A1B2C3D4E5F]\r\n"),
    "exchange-smtp-auth-disabled-mailbox": exo_smtp(
        b"535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication "
        b"is disabled for the Mailbox. Visit https://aka.ms/smtp_auth_disabled "
        b"for more information.\r\n"),
    "exchange-smtp-token-rejected": exo_smtp(
        b"535 5.7.3 Authentication unsuccessful [AM0PR02CA0001.eurprd02.prod."
        b"outlook.com 2024-05-01T10:00:00.000Z 08DC6A1B2C3D4E5F]\r\n"),
    "exchange-smtp-security-defaults": exo_smtp(
        b"535 5.7.139 Authentication unsuccessful, the user credentials were "
        b"incorrect or the request did not meet the criteria to be "
        b"authenticated successfully.\r\n"),
    "exchange-smtp-accepted": exo_smtp(
        b"235 2.7.0 Authentication successful\r\n250 2.0.0 OK\r\n"
        b"221 2.0.0 Service closing transmission channel\r\n"),
    "exchange-smtp-send-as": exo_smtp(
        b"235 2.7.0 Authentication successful\r\n"
        b"554 5.2.252 SendAsDenied; alice@contoso.com not allowed to send as "
        b"orders@contoso.com; STOREDRV.Submission.Exception:SendAsDeniedException"
        b".MapiExceptionSendAsDenied\r\n"),
    "gmail-smtp-bad-credentials": (SMTP, GMAIL_GREETING + GMAIL_EHLO +
        b"334 eyJzdGF0dXMiOiI0MDAiLCJzY2hlbWVzIjoiQmVhcmVyIiwic2NvcGUiOiJodHRw"
        b"czovL21haWwuZ29vZ2xlLmNvbS8ifQ==\r\n"
        b"535-5.7.8 Username and Password not accepted. For more "
        b"information, go to\r\n535 5.7.8  https://support.google.com/mail/"
        b"?p=BadCredentials a640c23a62f3a-a3e7c1a0b1csm1 - gsmtp\r\n"),
    "smtp-temporary-failure": (SMTP, b"220 mx.example.com ESMTP\r\n"
        b"250-mx.example.com\r\n250 AUTH XOAUTH2 OAUTHBEARER\r\n"
        b"454 4.7.0 Temporary authentication failure\r\n"),
    "exchange-imap-authenticate-failed": (IMAP,
        b"* OK The Microsoft Exchange IMAP4 service is ready. [QQBNADAAUABS"
        b"ADAAMgBDAEEAMAAwADAAMQAuAGUAdQByAHAAcgBkADAAMgAuAHAAcgBvAGQALgBv"
        b"AHUAdABsAG8AbwBrAC4AYwBvAG0A]\r\n"
        b"* CAPABILITY IMAP4 IMAP4rev1 AUTH=PLAIN AUTH=XOAUTH2 SASL-IR "
        b"UIDPLUS ID UNSELECT CHILDREN IDLE NAMESPACE LITERAL+\r\n"
        b"A001 OK CAPABILITY completed.\r\n"
        b"A002 NO AUTHENTICATE failed.\r\n"),
    "gmail-imap-invalid-credentials": (IMAP,
        b"* OK Gimap ready for requests from 203.0.113.7 "
        b"a640c23a62f3amb12345678\r\n"
        b"* CAPABILITY IMAP4rev1 UNSELECT IDLE NAMESPACE QUOTA ID XLIST "
        b"CHILDREN X-GM-EXT-1 XYZZY SASL-IR AUTH=XOAUTH2 AUTH=PLAIN "
        b"AUTH=PLAIN-CLIENTTOKEN AUTH=OAUTHBEARER AUTH=XOAUTH\r\n"
        b"+ eyJzdGF0dXMiOiI0MDAiLCJzY2hlbWVzIjoiQmVhcmVyIiwic2NvcGUiOiJodHRw"
        b"czovL21haWwuZ29vZ2xlLmNvbS8ifQ==\r\n"
        b"A002 NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)\r\n"),
    "dovecot-imap-inactive-token": (IMAP,
        b"* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE "
        b"LITERAL+ AUTH=XOAUTH2 AUTH=OAUTHBEARER] Dovecot (Debian) ready.\r\n"
        b"+ eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIiwic2NoZW1lcyI6IkJlYXJlciIsInNj"
        b"b3BlIjoibWFpbCJ9\r\n"
        b"A002 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"),
    "dovecot-imap-unavailable": (IMAP,
        b"* OK [CAPABILITY IMAP4rev1 AUTH=XOAUTH2] Dovecot ready.\r\n"
        b"A002 NO [UNAVAILABLE] Temporary authentication failure. "
        b"[mx:2024-05-01 10:00:00]\r\n"),
    "imap-preauth": (IMAP, b"* PREAUTH [CAPABILITY IMAP4rev1] Logged in as "
                           b"alice\r\n"),
    "dovecot-imap-accepted": (IMAP,
        b"* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2] Dovecot ready.\r\n"
        b"A002 OK [CAPABILITY IMAP4rev1 IDLE] Logged in\r\n"
        b"A003 OK NOOP completed.\r\n"),
}


def doctor_seeds():
    seeds = {}
    for name, (imap, text) in DIALOGUES.items():
        seeds[name] = bytes([imap]) + text
        seeds[name + "-one-block"] = bytes([imap | 2]) + text
    # The input is also read whole as a --smtp / --imap address.
    for spec in ("smtp.office365.com:587", "outlook.office365.com",
                 "smtp.gmail.com:465", "[::1]:1143", "127.0.0.1:2525"):
        seeds["address-" + re.sub(r"[^a-z0-9]+", "-", spec)] = spec.encode()
    return seeds


# ---- the loopback redirect (agent/login/pure/request.c) ----
# fuzz_redirect serves /xoauth/callback.
CHROME_HEADERS = (
    b"Host: 127.0.0.1:39871\r\nConnection: keep-alive\r\n"
    b'sec-ch-ua: "Chromium";v="156", "Not)A;Brand";v="8"\r\n'
    b"sec-ch-ua-mobile: ?0\r\n"
    b'sec-ch-ua-platform: "Linux"\r\n'
    b"Upgrade-Insecure-Requests: 1\r\n"
    b"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, "
    b"like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36\r\n"
    b"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,"
    b"image/avif,image/webp,image/apng,*/*;q=0.8\r\n"
    b"Sec-Fetch-Site: cross-site\r\nSec-Fetch-Mode: navigate\r\n"
    b"Sec-Fetch-Dest: document\r\nAccept-Encoding: gzip, deflate, br\r\n"
    b"Accept-Language: en-US,en;q=0.9\r\n\r\n")
FIREFOX_HEADERS = (
    b"Host: 127.0.0.1:39871\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64; "
    b"rv:128.0) Gecko/20100101 Firefox/128.0\r\nAccept: text/html,"
    b"application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    b"Accept-Language: en-US,en;q=0.5\r\nConnection: keep-alive\r\n"
    b"Upgrade-Insecure-Requests: 1\r\nSec-Fetch-Dest: document\r\n"
    b"Sec-Fetch-Mode: navigate\r\nSec-Fetch-Site: cross-site\r\n\r\n")

REDIRECTS = {
    "google-code-chrome": b"GET /xoauth/callback?state=Yk3jR0qL8wVn2sTx5cZ1"
        b"&iss=https%3A%2F%2Faccounts.google.com&code=4%2F0AeaYSHB" +
        b"x" * 60 + b"&scope=https%3A%2F%2Fmail.google.com%2F HTTP/1.1\r\n" +
        CHROME_HEADERS,
    "microsoft-code-firefox": b"GET /xoauth/callback?code=0.AXoAv4j5cvGGr0GR"
        + b"q" * 300 + b"&state=Yk3jR0qL8wVn2sTx5cZ1&session_state=0b1c2d3e-"
        b"0000-0000-0000-000000000000 HTTP/1.1\r\n" + FIREFOX_HEADERS,
    "oidc-provider-code": b"GET /xoauth/callback?code=kJ3n0xS9dKsT4yWmVbL1oR8u"
        b"E2cF6hG5iJ7kP0aZ3&state=Yk3jR0qL8wVn2sTx5cZ1&iss=http%3A%2F%2F127.0"
        b".0.1%3A39405 HTTP/1.1\r\n" + CHROME_HEADERS,
    "access-denied": b"GET /xoauth/callback?error=access_denied&error_"
        b"description=The+user+has+denied+access+to+the+scope+requested+by+"
        b"the+client+application.&state=Yk3jR0qL8wVn2sTx5cZ1 HTTP/1.1\r\n" +
        CHROME_HEADERS,
    "favicon": b"GET /favicon.ico HTTP/1.1\r\n" + CHROME_HEADERS,
    "curl": b"GET /xoauth/callback?code=abc&state=xyz HTTP/1.1\r\n"
        b"Host: 127.0.0.1:39871\r\nUser-Agent: curl/7.88.1\r\n"
        b"Accept: */*\r\n\r\n",
    "http10-bare-newlines": b"GET /xoauth/callback?code=abc HTTP/1.0\n\n",
    "post": b"POST /xoauth/callback HTTP/1.1\r\nHost: 127.0.0.1:39871\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: 19\r\n\r\ncode=abc&state=xyz",
    "half-a-request": b"GET /xoauth/callback?code=abc HTTP/1.1\r\nHost: 127.",
}

# What fuzz_authz reads: a redirect's query, or what a user pastes back.
AUTHZ = {
    "google-query": b"state=Yk3jR0qL8wVn2sTx5cZ1&iss=https%3A%2F%2Faccounts."
        b"google.com&code=4%2F0AeaYSHBxxxx&scope=https%3A%2F%2Fmail.google."
        b"com%2F",
    "microsoft-query": b"code=0.AXoAv4j5cvGGr0GRqy180BHbRygqqqq&state=Yk3j"
        b"R0qL8wVn2sTx5cZ1&session_state=0b1c2d3e-0000-0000-0000-"
        b"000000000000",
    "error-query": b"error=access_denied&error_description=AADSTS65004%3a+"
        b"User+declined+to+consent+to+access+the+app.&state=Yk3jR0qL8w",
    "pasted-nativeclient-url": b"https://login.microsoftonline.com/common/"
        b"oauth2/nativeclient?code=0.AXoAv4j5cvGGr0GRqy180BHbRyg&state=Yk3j"
        b"R0qL8wVn2sTx5cZ1&session_state=0b1c2d3e\n",
    "pasted-localhost-url": b"  http://localhost/?code=4/0AeaYSHBxxxx&scope="
        b"https://mail.google.com/&state=Yk3jR0qL8wVn2sTx5cZ1  \n",
    "pasted-bare-code": b"4/0AeaYSHBxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
}


# ---- the wire protocol (proto/PROTOCOL.md) ----
def u8(v):
    return struct.pack(">B", v)


def u32(v):
    return struct.pack(">I", v)


def u64(v):
    return struct.pack(">Q", v)


def s(v):
    v = v.encode() if isinstance(v, str) else v
    return u32(len(v)) + v


def frame(kind, payload=b""):
    return u32(len(payload) + 1) + u8(kind) + payload


FRAMES = {
    "query": frame(1, u32(1)),
    "token-xoauth2": frame(2, s("work") + u8(1) + s("") + u32(0) + u32(600)
                           + u32(0)),
    "token-oauthbearer": frame(2, s("alice@example.com") + u8(2) +
                               s("smtp.example.com") + u32(587) + u32(0) +
                               u32(10000)),
    "list": frame(3),
    "refresh": frame(4, s("work") + u32(0)),
    "remove": frame(5, s("work") + u32(0)),
    "import": frame(6, s("work") + s(GOOGLE_RT)),
    "login-start": frame(7, s("work") + s("device") + u32(0)),
    "login-wait": frame(8, s("work") + u32(30000)),
    "login-code": frame(9, s("gmail") + s("http://localhost/?code=4/0Aea&"
                                          "state=Yk3jR0qL8w") + u32(0)),
    "add": frame(10, s("shop") + u32(3) + s("provider") + s("microsoft") +
                 s("client_id") + s("3f1a7c2e-0000-4000-8000-00000000abcd") +
                 s("email") + s("orders@example.com")),
    "delete": frame(11, s("shop") + u32(0)),
    "doctor": frame(12, s("work") + s("smtp.office365.com:587") +
                    s("outlook.office365.com") + u32(0)),
    "lock": frame(13),
    "unlock-create": frame(14, s("correct horse battery staple") + u8(1)),
    "export": frame(15, s("export passphrase")),
    "restore": frame(16, u32(2) + s("WE9BVVRIVlQ") + s("AAAAAQE=") +
                     s("export passphrase")),
    "success": frame(128),
    "failure": frame(129, u32(4) + s("no such account")),
    "version": frame(130, u32(1) + s("xoauth-agent 0.1.0") +
                     s("token list refresh login add doctor vault")),
    "token-reply": frame(131, s(GOOGLE_AT) + u64(EXP) +
                         s("alice@gmail.com")),
    "list-reply": frame(132, u32(2) + s("work") + s("alice@contoso.com") +
                        s("microsoft") + s("device") + u8(1) + u64(EXP) +
                        u64(1700000000) + u64(1700002700) + s("") +
                        s("gmail") + s("alice@gmail.com") + s("google") +
                        s("browser") + u8(5) + u64(0) + u64(0) + u64(0) +
                        s("the provider no longer accepts the grant: log in "
                          "again")),
    "login-reply": frame(133, s("https://microsoft.com/devicelogin") + s("")
                         + s("FQK5HW3UF") + u32(900) + u32(5) + s("device")),
    "doctor-reply": frame(134, u32(2) + u8(3) + s("SMTP AUTH is disabled for "
                          "the tenant") + s("Set-TransportConfig "
                          "-SmtpClientAuthenticationDisabled $false") +
                          u8(1) + s("The access token is a JWT") + s("")),
    "export-reply": frame(135, u32(1) + s("WE9BVVRIVlQAAAABAg==")),
}


# SEND, a piece of its message, SEND_END and SENT (PROTOCOL.md 4.11), and
# TOKEN with its trailing scope.
SEND_FRAMES = {
    "send": frame(17, s("work") + s("alice@example.com") + s("Alice") + u8(1)
                  + u64(42) + u32(2) + s("bob@example.com") + s("c@d.e")),
    "send-data": frame(18, u32(9) + b"To: x\r\n\x00\xff"),
    "send-end": frame(19, u32(120000)),
    "sent": frame(136, s("graph") + s("202 Accepted") + s("SMTP AUTH off")),
    "token-scope": frame(2, s("work") + u8(0) + s("") + u32(0) + u32(0) + u32(0)
                         + s("https://graph.microsoft.com/Mail.Send")),
    # LIST with its flags, and a reply with the other scopes' tokens.
    "list-scopes": frame(3, u32(1)),
    "list-reply-scopes": frame(132, u32(1) + s("work") + s("alice@contoso.com") +
                               s("microsoft") + s("device") + u8(1) + u64(EXP) +
                               u64(1700000000) + u64(1700002700) + s("") +
                               u32(2) + s("work") +
                               s("https://graph.microsoft.com/Mail.Send") + u8(5) +
                               u64(0) + u64(0) + u64(0) +
                               s("work: the provider gives no token for "
                                 "https://graph.microsoft.com/Mail.Send (AADSTS65001)") +
                               s("work") + s("https://mail.google.com/") + u8(1) +
                               u64(EXP) + u64(1700000000) + u64(1700002700) + s("")),
}


def proto_seeds():
    seeds = dict(FRAMES)
    seeds.update(SEND_FRAMES)
    seeds["send-conversation"] = (SEND_FRAMES["send"] + SEND_FRAMES["send-data"]
                                  + SEND_FRAMES["send-end"])
    # Pipelined, as a client may send them, and the spec's examples.
    seeds["pipelined-requests"] = (FRAMES["query"] + FRAMES["token-xoauth2"]
                                   + FRAMES["list"] + FRAMES["lock"])
    seeds["spec-example-token"] = bytes.fromhex(
        "0000001a0200000004776f726b0100000000000000000000025800000000")
    # Bare payloads: the target hands every input to every decoder too.
    for name in ("token-xoauth2", "add", "list-reply"):
        seeds[name + "-payload"] = FRAMES[name][5:]
    return seeds


# ---- messages for xoauth sendmail (agent/send/pure/message.c) ----
# fuzz_message reads the first byte as options too: bit 0 drops Bcc, bit 1
# writes the To/Cc recipients as a Bcc field, bit 2 maps local users' names
# to an address, bit 3 writes a From naming a local user anew ("F" has bits
# 1 and 2, "X" bit 3).
MESSAGES = {
    "cron-root": "From: root (Cron Daemon)\nTo: root\nSubject: Cron <root@h> ls\n"
                 "Content-Type: text/plain; charset=UTF-8\n\noutput\n",
    "logwatch-local-from": "X-Mailer: logwatch\nTo: Admin <root>, www-data\n"
                           "From: Logwatch\nBcc: a.b\n\nall quiet\n",
    "simple": "From: Alice <alice@example.com>\nTo: bob@example.com\n"
              "Subject: hi\n\nHello.\n",
    "folded-groups-comments": "To: \"Smith, Bob\" <bob@example.com>,\r\n"
                              " team: a@b.c, (x) d@e.f;, <@route:g@h.i>\r\n"
                              "Cc: undisclosed-recipients:;\r\n"
                              "Bcc: hidden@example.net\r\n\r\nbody\r\n",
    "8bit-no-final-newline": "Subject: \u00e9t\u00e9\nTo: x@y.z\n\n\u00bd \u20ac",
    "no-header": "just a body line\n.\nand a dot line\n",
    "graph-error": "{\"error\":{\"code\":\"ErrorAccessDenied\",\"message\":"
                   "\"Access is denied.\"}}",
    "gmail-error": "{\"error\":{\"code\":403,\"message\":\"Request had "
                   "insufficient authentication scopes.\",\"status\":"
                   "\"PERMISSION_DENIED\",\"errors\":[{\"reason\":"
                   "\"insufficientPermissions\"}]}}",
}


def message_seeds():
    return {k: v.encode() for k, v in MESSAGES.items()}


# ---- configs (agent/config/pure/) ----
EXTRA_CONFIGS = {
    "agent-section-and-every-flow": """\
# The agent's own settings.
[agent]
wait = 20
max_connections = 4096
idle_timeout = 120
secret_cmd_timeout = 5
notify_cmd = notify-send "xoauth: $XOAUTH_ACCOUNT" "$XOAUTH_REASON"
notify_timeout = 10
vault = ~/.local/share/xoauth/vault
vault_key_file = /run/credentials/xoauth-agent.service/vault-key
restricted_socket = ~/.xoauth-forward

[account work]
provider = microsoft
tenant = organizations
client_id = 3f1a7c2e-0000-4000-8000-00000000abcd
email = alice@contoso.com
flow = device
lifetime = 12h

[account gmail]
provider = google
client_id = 1234-abc.apps.googleusercontent.com
client_secret = GOCSPX-abcdefghijklmnopqrstuvwxyz12
email = alice@gmail.com
flow = browser
redirect_port = 8765

[account paste]
provider = google
client_id = 1234-abc.apps.googleusercontent.com
client_secret_cmd = pass show oauth/gmail
flow = paste
redirect_uri = https://app.example.com/oauth/callback
""",
    "generic-endpoints": """\
[account local]
provider = generic
authorization_endpoint = http://127.0.0.1:39405/auth
token_endpoint = http://127.0.0.1:39405/token
device_authorization_endpoint = http://127.0.0.1:39405/device/auth
client_id = xoauth-test
scopes = openid email offline_access
ca_file = /etc/ssl/certs/ca-certificates.crt
""",
    "other-presets": """\
[account y]
provider = yahoo
client_id = dj0yJmk9abc
email = alice@yahoo.com

[account a]
provider = aol
client_id = dj0yJmk9def

[account f]
provider = fastmail
client_id = 35c941ae
email = alice@fastmail.com

[account x]
provider = yandex
client_id = 0123456789abcdef

[account gov]
provider = microsoft-us-gov
tenant = organizations
client_id = 3f1a7c2e-0000-4000-8000-00000000abcd

[account cn]
provider = microsoft-china
tenant = organizations
client_id = 3f1a7c2e-0000-4000-8000-00000000abcd
""",
    "send-keys": """[account shop]
provider = microsoft
client_id = 3f1a7c2e-0000-4000-8000-00000000abcd
email = orders@example.com
send = auto
smtp = smtps://smtp.example.com:2465
local_recipient = ops@example.com , admin@example.org,
""",
}


def config_seeds():
    """xoauth.conf(5)'s EXAMPLES, and a few configs more."""
    with open(os.path.join(TOP, "man", "xoauth.conf.5"),
              encoding="utf-8") as fh:
        page = fh.read()
    examples = page[page.index(".Sh EXAMPLES"):]
    blocks = re.findall(r"\.Bd -literal[^\n]*\n(.*?)\.Ed", examples, re.S)
    seeds = {}
    for i, block in enumerate(blocks):
        seeds["man-example-%d" % (i + 1)] = block.replace("\\e", "\\")
    seeds["man-examples-together"] = "\n".join(seeds.values())
    seeds.update(EXTRA_CONFIGS)
    return {k: v.encode() for k, v in seeds.items()}


# ---- the vault (agent/vault/pure/image.c) ----
VAULT_TEXTS = {
    "two-accounts": {
        "format": 1, "accounts": [
            {"name": "work", "email": "alice@contoso.com",
             "refresh_token": MS_RT, "obtained": 1700000000,
             "presented": False},
            {"name": "shop", "email": "orders@example.com",
             "refresh_token": GOOGLE_RT, "obtained": 1700000100,
             "presented": True,
             "settings": {"provider": "microsoft",
                          "client_id": "3f1a7c2e-0000-4000-8000-00000000abcd",
                          "email": "orders@example.com"}}]},
    "no-accounts": {"format": 1, "accounts": []},
}

# Journals (pure/journal.h): a base, then records of changes as a storm of
# refreshes writes them (records.c): the "presented" mark (the name alone,
# or in an agent before format 2 the whole entry), the rotated token, an
# account deleted, a record that replaces everything.
JOURNALS = {
    "refresh": [
        VAULT_TEXTS["two-accounts"],
        {"format": 2, "accounts": [], "presented": ["work", "gone"]},
        {"format": 1, "accounts": [
            {"name": "work", "email": "alice@contoso.com",
             "refresh_token": MS_RT[::-1], "obtained": 1700000000,
             "presented": False}]},
        {"format": 1, "accounts": [], "gone": ["shop"]},
    ],
    "whole": [
        VAULT_TEXTS["no-accounts"],
        dict(VAULT_TEXTS["two-accounts"], whole=True),
    ],
    "base-only": [VAULT_TEXTS["two-accounts"]],
    "refresh-format-1": [
        VAULT_TEXTS["two-accounts"],
        {"format": 1, "accounts": [
            {"name": "work", "email": "alice@contoso.com",
             "refresh_token": MS_RT, "obtained": 1700000000,
             "presented": True}]},
    ],
}


def compact(doc):
    """As records.c writes it: compact JSON."""
    return json.dumps(doc, separators=(",", ":")).encode()


def vault_seeds(build):
    seal = os.path.join(build, "fuzz_vault_seal")
    seeds = {}
    for name, doc in VAULT_TEXTS.items():
        text = compact(doc)
        seeds["plain-" + name] = b"\x01" + text
        for kdf in ("keyfile", "passphrase"):
            img = subprocess.run([seal, kdf], input=text, check=True,
                                 stdout=subprocess.PIPE).stdout
            seeds["image-%s-%s" % (kdf, name)] = b"\x00" + img
    for name, docs in JOURNALS.items():
        texts = b"\0".join(compact(d) for d in docs)
        # Way 2 seals and cuts them itself.
        seeds["journal-" + name] = b"\x02" + texts
        for kdf in ("keyfile", "passphrase"):
            img = subprocess.run([seal, kdf, "journal"], input=texts,
                                 check=True, stdout=subprocess.PIPE).stdout
            seeds["file-%s-%s" % (kdf, name)] = b"\x00" + img
            if name == "refresh":
                # What a crash in the middle of an append leaves: the last
                # record cut short, or zeros where it was to be.
                last = len(compact(docs[-1])) + 60
                seeds["file-%s-torn" % kdf] = b"\x00" + img[:-last // 2]
                seeds["file-%s-zeros" % kdf] = (b"\x00" + img[:-last] +
                                                bytes(last))
    return seeds


def write(out, target, seeds):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    for name in os.listdir(d):
        os.unlink(os.path.join(d, name))
    for name, data in seeds.items():
        with open(os.path.join(d, name), "wb") as fh:
            fh.write(data)
    return len(seeds)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: make_corpus.py OUT_DIR BUILD_TESTS_DIR")
    out, build = sys.argv[1], sys.argv[2]
    corpora = {
        "fuzz_proto": proto_seeds(),
        "fuzz_authz": AUTHZ,
        "fuzz_redirect": REDIRECTS,
        "fuzz_config": config_seeds(),
        "fuzz_oauth_reply": oauth_seeds(),
        "fuzz_jwt": jwt_seeds(),
        "fuzz_doctor_reply": doctor_seeds(),
        "fuzz_vault": vault_seeds(build),
        "fuzz_message": message_seeds(),
    }
    for target, seeds in corpora.items():
        print("make_corpus: %-18s %3d seeds" % (target, write(out, target,
                                                              seeds)))


if __name__ == "__main__":
    main()
