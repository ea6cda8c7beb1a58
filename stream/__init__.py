"""The clients of the relay, by who runs them.

* `stream.phone`: on the person's device: the uploader (WebRTC, HTTPS fallback) and the
  recording session that feeds it;
* `stream.contact`: on an emergency contact's or a lawyer's machine: watching live,
  fetching archives;
* `stream.demo`: only in `testigo demo` and the tests: a local relay process, an alert
  inbox, the scripted mission.

None of them imports `relay_server`; they speak to it through `vault.wire`.
"""
