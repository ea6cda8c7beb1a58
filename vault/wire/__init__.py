"""The relay protocol's wire layer (docs/PROTOCOL.md), sans-IO, shared by every end.

Neither the relay nor the clients own it: the relay (`relay_server`), the phone's uploader
(`stream.phone`) and the contact's tools (`stream.contact`) all import it, and it imports
nothing above the format (`vault`).
"""
