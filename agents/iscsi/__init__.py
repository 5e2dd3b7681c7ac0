"""The iSCSI agents and two of their backends.

| file | what it is |
|---|---|
| target.py | ocf:ocfkit:iSCSITarget, one exported target |
| logical_unit.py | ocf:ocfkit:iSCSILogicalUnit, one LUN of a target |
| daemon.py | ocf:ocfkit:iscsitarget, the target daemon (tgtd or ietd) itself |
| frontend.py | what the target and LUN agents share: parameters, OCF rules, the backend choice |
| backend.py | the interface a backend offers and the choice among tgt, LIO and IET |
| tgt.py, lio.py | the tgt (tgtadm) and LIO (configfs) backends; IET, the seed's target, is agents/iet.py |
| config.py, rollback.py | configuration rules and undo steps every backend shares |
"""
