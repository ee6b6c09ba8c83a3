"""GS1 keys and their 96-bit EPC tag encodings (GS1 EPC Tag Data Standard).

Only what the devices write onto tags: SGTIN-96 for items, SSCC-96 for parcels. Written
from the standard's partition tables, checked against the vectors in
`shared/reference/epc_test_vectors.md`.
"""

from __future__ import annotations

import base64

SGTIN96_HEADER = 0x30
SSCC96_HEADER = 0x31
SGTIN_SERIAL_BITS = 38

# partition -> (company prefix bits, company prefix digits, reference bits, reference digits)
_SGTIN_PARTITIONS = {
    0: (40, 12, 4, 1),
    1: (37, 11, 7, 2),
    2: (34, 10, 10, 3),
    3: (30, 9, 14, 4),
    4: (27, 8, 17, 5),
    5: (24, 7, 20, 6),
    6: (20, 6, 24, 7),
}
_SSCC_PARTITIONS = {
    0: (40, 12, 18, 5),
    1: (37, 11, 21, 6),
    2: (34, 10, 24, 7),
    3: (30, 9, 28, 8),
    4: (27, 8, 31, 9),
    5: (24, 7, 34, 10),
    6: (20, 6, 38, 11),
}


class EpcEncodingError(ValueError):
    pass


def gs1_check_digit(digits: str) -> int:
    """Mod-10 check digit over `digits` (weights 3,1,3,... from the right)."""
    if not digits.isdigit():
        raise EpcEncodingError(f"not all digits: {digits!r}")
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return (10 - total % 10) % 10


def _partition(table: dict[int, tuple[int, int, int, int]], prefix_len: int) -> int:
    for partition, (_, digits, _, _) in table.items():
        if digits == prefix_len:
            return partition
    raise EpcEncodingError(f"no partition for a company prefix of {prefix_len} digits")


def _check_filter(filter_value: int) -> None:
    if not 0 <= filter_value <= 7:
        raise EpcEncodingError(f"filter must be 0-7, got {filter_value}")


def sgtin96(gtin: str, company_prefix_len: int, serial: int, filter_value: int = 1) -> str:
    """SGTIN-96 of a GTIN-14 and an integer serial, as 24 upper-case hex digits."""
    if len(gtin) != 14 or not gtin.isdigit():
        raise EpcEncodingError(f"GTIN-14 expected, got {gtin!r}")
    if gs1_check_digit(gtin[:13]) != int(gtin[13]):
        raise EpcEncodingError(f"bad GTIN check digit: {gtin}")
    if not 0 <= serial < 1 << SGTIN_SERIAL_BITS:
        raise EpcEncodingError(f"serial out of range for SGTIN-96: {serial}")
    _check_filter(filter_value)
    partition = _partition(_SGTIN_PARTITIONS, company_prefix_len)
    cp_bits, cp_digits, ref_bits, _ = _SGTIN_PARTITIONS[partition]
    company_prefix = int(gtin[1 : 1 + cp_digits])
    item_reference = int(gtin[0] + gtin[1 + cp_digits : 13])
    value = SGTIN96_HEADER
    value = (value << 3) | filter_value
    value = (value << 3) | partition
    value = (value << cp_bits) | company_prefix
    value = (value << ref_bits) | item_reference
    value = (value << SGTIN_SERIAL_BITS) | serial
    return f"{value:024X}"


def sscc96(sscc: str, company_prefix_len: int, filter_value: int = 0) -> str:
    """SSCC-96 of an 18-digit SSCC, as 24 upper-case hex digits."""
    if len(sscc) != 18 or not sscc.isdigit():
        raise EpcEncodingError(f"18-digit SSCC expected, got {sscc!r}")
    if gs1_check_digit(sscc[:17]) != int(sscc[17]):
        raise EpcEncodingError(f"bad SSCC check digit: {sscc}")
    _check_filter(filter_value)
    partition = _partition(_SSCC_PARTITIONS, company_prefix_len)
    cp_bits, cp_digits, ref_bits, _ = _SSCC_PARTITIONS[partition]
    company_prefix = int(sscc[1 : 1 + cp_digits])
    serial_reference = int(sscc[0] + sscc[1 + cp_digits : 17])
    value = SSCC96_HEADER
    value = (value << 3) | filter_value
    value = (value << 3) | partition
    value = (value << cp_bits) | company_prefix
    value = (value << ref_bits) | serial_reference
    value <<= 24  # reserved
    return f"{value:024X}"


def make_sscc(extension_digit: int, company_prefix: str, serial_reference: int) -> str:
    """An 18-digit SSCC with its check digit."""
    width = 16 - len(company_prefix)
    if not 0 <= serial_reference < 10**width:
        raise EpcEncodingError(f"serial reference {serial_reference} exceeds {width} digits")
    body = f"{extension_digit}{company_prefix}{serial_reference:0{width}d}"
    return body + str(gs1_check_digit(body))


def epc_base64url(epc_hex: str) -> str:
    """An EPC as Impinj readers send it by default: URL-safe base64, no padding."""
    return base64.urlsafe_b64encode(bytes.fromhex(epc_hex)).rstrip(b"=").decode("ascii")
