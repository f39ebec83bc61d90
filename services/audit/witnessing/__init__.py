"""Checkpoints published as C2SP signed notes and cosigned by independent witnesses.

Each checkpoint the log signs is also signed as a tlog-checkpoint note with the same key.
The sequencer submits the newest note to every configured witness (c2sp.org/tlog-witness)
with a consistency proof from the size that witness last cosigned, and keeps the
cosignatures it returns. A checkpoint is published, and served as the latest, once the
configured quorum of witnesses has cosigned it; with no witnesses, at once.
"""
