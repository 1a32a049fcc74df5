"""SIP phones as a library: the controller of a pjsua2 phones process, its config and JSON-lines protocol.

Knows SIP accounts, calls and events, nothing of cases or recordings (as ``dialer/ami`` knows AMI).
pjsua2 is an optional GPL extra: it is never imported here, only in the phones process.
"""
