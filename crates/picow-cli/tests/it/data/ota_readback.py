"""Reads a picow flash file back with ESP-IDF's formats, independently of
picow: the partition table and otadata with PyPI's esp-idf-defs (its otadata
parser compares the CRC with itself, so the CRC is checked here, as ESP-IDF's
bootloader computes it: crc32_le(UINT32_MAX, &seq, 4), i.e. zlib's crc32 with
0xFFFFFFFF), and the image in every app slot with esp-idf-defs' image
metadata (checksum, SHA-256, app descriptor). Prints one JSON object.

usage: python ota_readback.py FLASH_FILE
"""
import binascii
import json
import struct
import sys

from esp_idf_defs.image_metadata import ImageMetadata
from esp_idf_defs.otadata import OtaDataSelectEntry
from esp_idf_defs.partitions import APP_TYPE, DATA_TYPE, SUBTYPES, PartitionTable

flash = open(sys.argv[1], "rb").read()
table = PartitionTable.from_binary(flash[0x8000:0x8C00])
out = {"partitions": [], "otadata": [], "slots": []}
for p in table:
    out["partitions"].append(
        {"name": p.name, "type": p.type, "subtype": p.subtype, "offset": p.offset, "size": p.size}
    )

ota = [p for p in table if p.type == DATA_TYPE and p.subtype == SUBTYPES[DATA_TYPE]["ota"]]
slots = sorted(
    (p for p in table if p.type == APP_TYPE and p.subtype >= SUBTYPES[APP_TYPE]["ota_0"]),
    key=lambda p: p.subtype,
)
if ota:
    for i in range(2):
        raw = flash[ota[0].offset + i * 0x1000 : ota[0].offset + i * 0x1000 + 32]
        seq, state, crc = struct.unpack_from("<I20xII", raw)
        entry = OtaDataSelectEntry.from_bytes(raw)
        out["otadata"].append(
            {
                "seq": seq,
                "state": state,
                "crc_ok": crc == binascii.crc32(struct.pack("<I", seq), 0xFFFFFFFF),
                "parsed": entry is not None,
                "slot": entry.ota_slot(len(slots)) if entry else None,
            }
        )
    # The bootloader's choice: the valid entry (CRC checked here) with the
    # higher seq that is neither invalid (3) nor aborted (4).
    valid = [e for e in out["otadata"] if e["parsed"] and e["crc_ok"] and e["state"] not in (3, 4)]
    best = max(valid, key=lambda e: e["seq"]) if valid else None
    out["boot_slot"] = best["slot"] if best else 0

for p in slots:
    slot = {"name": p.name, "offset": p.offset}
    try:
        meta = ImageMetadata.from_bytes(flash[p.offset : p.offset + p.size], app_required=True)
        slot["valid"] = True
        slot["project"] = meta.app_description.project_name
        slot["version"] = meta.app_description.version
        slot["chip_id"] = int(meta.header.chip_id)
    except Exception as e:  # the image does not verify: say why
        slot["valid"] = False
        slot["error"] = str(e)
    out["slots"].append(slot)

print(json.dumps(out))
