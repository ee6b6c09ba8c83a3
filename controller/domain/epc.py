"""EPC binary decoding and encoding, after the GS1 EPC Tag Data Standard (TDS).

Decodes the schemes our tags carry: SGTIN-96, SGTIN-198, SSCC-96, SGLN-96, GRAI-96 and
GIAI-96, to their GS1 key, tag URI and pure-identity URI, keeping the filter value. Every
other header (the other TDS 1.x schemes, the TDS 2.x "+" schemes, factory-default EPCs) is
reported as a `RawEpc`, never guessed. A GS1 header whose fields break the TDS validity
rules (partition 7, more digits than the partition allows, wrong length, bits that must be
zero but are not) raises `InvalidEpc`.

Standard library only: this runs for every tag read.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias

from controller.domain.errors import EpcNotEncodable, InvalidEpc
from controller.domain.gs1 import SSCC_LENGTH, check_digit, gtin_is_valid

__all__ = [
    "Epc",
    "Giai",
    "Grai",
    "RawEpc",
    "Sgln",
    "Sgtin",
    "Sscc",
    "decode_epc",
    "encode_sgtin96",
    "encode_sscc96",
    "epc_from_base64",
]

# TDS §14.2, table of EPC headers: the first 8 bits select the scheme (and so its length).
SGTIN_96_HEADER: Final = 0x30
SSCC_96_HEADER: Final = 0x31
SGLN_96_HEADER: Final = 0x32
GRAI_96_HEADER: Final = 0x33
GIAI_96_HEADER: Final = 0x34
SGTIN_198_HEADER: Final = 0x36

# Allocated TDS 1.x headers we do not decode: reported as RawEpc with the scheme named.
_KNOWN_UNSUPPORTED: Final[dict[int, str]] = {
    0x2C: "gdti-96",
    0x2D: "gsrn-96",
    0x2E: "gsrnp-96",
    0x2F: "usdod-96",
    0x35: "gid-96",
    0x37: "grai-170",
    0x38: "giai-202",
    0x39: "sgln-195",
    0x3A: "gdti-113",
    0x3B: "adi-var",
    0x3C: "cpi-96",
    0x3D: "cpi-var",
    0x3E: "gdti-174",
    0x3F: "sgcn-96",
    0x40: "itip-110",
    0x41: "itip-212",
}

# Partition tables (TDS §14.2): per partition value 0..6, (company prefix bits, its digits,
# other field bits, its maximum digits). Partition 7 is not allocated in any scheme.
_Partition: TypeAlias = tuple[int, int, int, int]
_SGTIN_PARTITIONS: Final[tuple[_Partition, ...]] = (
    (40, 12, 4, 1),
    (37, 11, 7, 2),
    (34, 10, 10, 3),
    (30, 9, 14, 4),
    (27, 8, 17, 5),
    (24, 7, 20, 6),
    (20, 6, 24, 7),
)
_SSCC_PARTITIONS: Final[tuple[_Partition, ...]] = (
    (40, 12, 18, 5),
    (37, 11, 21, 6),
    (34, 10, 24, 7),
    (30, 9, 28, 8),
    (27, 8, 31, 9),
    (24, 7, 34, 10),
    (20, 6, 38, 11),
)
_SGLN_PARTITIONS: Final[tuple[_Partition, ...]] = (
    (40, 12, 1, 0),
    (37, 11, 4, 1),
    (34, 10, 7, 2),
    (30, 9, 11, 3),
    (27, 8, 14, 4),
    (24, 7, 17, 5),
    (20, 6, 21, 6),
)
_GRAI_PARTITIONS: Final[tuple[_Partition, ...]] = (
    (40, 12, 4, 0),
    (37, 11, 7, 1),
    (34, 10, 10, 2),
    (30, 9, 14, 3),
    (27, 8, 17, 4),
    (24, 7, 20, 5),
    (20, 6, 24, 6),
)
# GIAI-96 uses the "unpadded" partition table: the asset reference is an integer, printed
# without leading zeros, of at most the given number of digits.
_GIAI_PARTITIONS: Final[tuple[_Partition, ...]] = (
    (40, 12, 42, 13),
    (37, 11, 45, 14),
    (34, 10, 48, 15),
    (30, 9, 52, 16),
    (27, 8, 55, 17),
    (24, 7, 58, 18),
    (20, 6, 62, 19),
)
_POW10: Final = tuple(10**k for k in range(20))

EPC_96_BITS: Final = 96
SGTIN_198_BITS: Final = 198
SERIAL_96_BITS: Final = 38  # SGTIN-96 / GRAI-96 serial: an integer below 2**38
SGTIN_198_SERIAL_CHARS: Final = 20  # 140 bits of 7-bit characters
MAX_EPC_NIBBLES: Final = 124  # the PC word's 5-bit length field: at most 31 words (496 bits)
# EPC lengths, in 16-bit words, that a reader reporting "PC word + EPC" may plausibly send:
# 96-bit EPCs (6), 128-bit EPC memory (8), and the 198-bit schemes padded to 13 words.
_PLAUSIBLE_EPC_WORDS: Final = frozenset({6, 8, 13})
_PC_TOGGLE_BIT: Final = 0x0100  # PC bit 17h: 1 means an ISO UII with an AFI, not an EPC

_HEX: Final = re.compile(r"[0-9A-Fa-f]+")
_BASE64: Final = re.compile(r"[A-Za-z0-9_\-+/]+={0,2}")
_DIGITS: Final = re.compile(r"[0-9]+")

# GS1 AI encodable character set 82 (TDS Table A-1), the alphabet of SGTIN-198 serials,
# and the characters that the EPC URI must percent-escape.
_CHARSET_82: Final = frozenset(
    "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
)
_URI_ESCAPES: Final = {
    ord('"'): "%22",
    ord("%"): "%25",
    ord("&"): "%26",
    ord("/"): "%2F",
    ord("<"): "%3C",
    ord(">"): "%3E",
    ord("?"): "%3F",
}


def _uri_escape(value: str) -> str:
    return value.translate(_URI_ESCAPES)


@dataclass(frozen=True, slots=True)
class Sgtin:
    """Serialised GTIN. `item_reference` is the indicator digit + item reference (as in the
    URI); `serial` is a decimal integer without leading zeros for SGTIN-96."""

    scheme: Literal["sgtin-96", "sgtin-198"]
    filter: int
    company_prefix: str
    item_reference: str
    serial: str

    @property
    def gtin(self) -> str:
        body = self.item_reference[0] + self.company_prefix + self.item_reference[1:]
        return body + check_digit(body)

    @property
    def tag_uri(self) -> str:
        return (
            f"urn:epc:tag:{self.scheme}:{self.filter}.{self.company_prefix}."
            f"{self.item_reference}.{_uri_escape(self.serial)}"
        )

    @property
    def pure_identity_uri(self) -> str:
        return (
            f"urn:epc:id:sgtin:{self.company_prefix}.{self.item_reference}."
            f"{_uri_escape(self.serial)}"
        )


@dataclass(frozen=True, slots=True)
class Sscc:
    """Serial Shipping Container Code. `serial_reference` is the extension digit + serial
    reference, zero-padded (as in the URI)."""

    filter: int
    company_prefix: str
    serial_reference: str
    scheme: Literal["sscc-96"] = "sscc-96"

    @property
    def sscc(self) -> str:
        body = self.serial_reference[0] + self.company_prefix + self.serial_reference[1:]
        return body + check_digit(body)

    @property
    def tag_uri(self) -> str:
        return f"urn:epc:tag:sscc-96:{self.filter}.{self.company_prefix}.{self.serial_reference}"

    @property
    def pure_identity_uri(self) -> str:
        return f"urn:epc:id:sscc:{self.company_prefix}.{self.serial_reference}"


@dataclass(frozen=True, slots=True)
class Sgln:
    """GLN with extension. `location_reference` may be empty (12-digit company prefix);
    `extension` "0" means the GLN has no extension (no AI 254)."""

    filter: int
    company_prefix: str
    location_reference: str
    extension: str
    scheme: Literal["sgln-96"] = "sgln-96"

    @property
    def gln(self) -> str:
        body = self.company_prefix + self.location_reference
        return body + check_digit(body)

    @property
    def tag_uri(self) -> str:
        return (
            f"urn:epc:tag:sgln-96:{self.filter}.{self.company_prefix}."
            f"{self.location_reference}.{self.extension}"
        )

    @property
    def pure_identity_uri(self) -> str:
        return f"urn:epc:id:sgln:{self.company_prefix}.{self.location_reference}.{self.extension}"


@dataclass(frozen=True, slots=True)
class Grai:
    """Global Returnable Asset Identifier. `grai` is the AI (8003) data: a 0 pad digit,
    company prefix, asset type, check digit, then the serial."""

    filter: int
    company_prefix: str
    asset_type: str
    serial: str
    scheme: Literal["grai-96"] = "grai-96"

    @property
    def grai(self) -> str:
        body = self.company_prefix + self.asset_type
        return "0" + body + check_digit(body) + self.serial

    @property
    def tag_uri(self) -> str:
        return (
            f"urn:epc:tag:grai-96:{self.filter}.{self.company_prefix}."
            f"{self.asset_type}.{self.serial}"
        )

    @property
    def pure_identity_uri(self) -> str:
        return f"urn:epc:id:grai:{self.company_prefix}.{self.asset_type}.{self.serial}"


@dataclass(frozen=True, slots=True)
class Giai:
    """Global Individual Asset Identifier; `giai` is the AI (8004) data."""

    filter: int
    company_prefix: str
    asset_reference: str
    scheme: Literal["giai-96"] = "giai-96"

    @property
    def giai(self) -> str:
        return self.company_prefix + self.asset_reference

    @property
    def tag_uri(self) -> str:
        return f"urn:epc:tag:giai-96:{self.filter}.{self.company_prefix}.{self.asset_reference}"

    @property
    def pure_identity_uri(self) -> str:
        return f"urn:epc:id:giai:{self.company_prefix}.{self.asset_reference}"


@dataclass(frozen=True, slots=True)
class RawEpc:
    """An EPC we do not decode. `scheme` names a known but unsupported TDS scheme, or is
    None; `afi` is set when the PC word's toggle bit marked the memory as an ISO UII."""

    hex: str
    scheme: str | None = None
    afi: int | None = None

    @property
    def bits(self) -> int:
        return len(self.hex) * 4

    @property
    def uri(self) -> str:
        if self.afi is not None:
            return f"urn:epc:raw:{self.bits}.x{self.afi:02X}.x{self.hex}"
        return f"urn:epc:raw:{self.bits}.x{self.hex}"

    @property
    def tag_uri(self) -> str:
        return self.uri

    @property
    def pure_identity_uri(self) -> None:
        return None

    @property
    def filter(self) -> None:
        return None


Epc: TypeAlias = Sgtin | Sscc | Sgln | Grai | Giai | RawEpc


def decode_epc(hex_epc: str) -> Epc:
    """Decode a hex EPC (either case), optionally preceded by its PC word.

    Raises InvalidEpc for anything that is not hex, has the wrong length for its header, or
    breaks a TDS validity rule; never returns a guess.
    """
    if not _HEX.fullmatch(hex_epc):
        raise InvalidEpc(hex_epc, "not a hexadecimal string")
    epc = hex_epc.upper()
    nibbles = len(epc)
    if nibbles > MAX_EPC_NIBBLES + 4:
        raise InvalidEpc(hex_epc, f"{nibbles * 4} bits is longer than any Gen2 EPC")
    words, odd = divmod(nibbles, 4)
    if not odd and words - 1 in _PLAUSIBLE_EPC_WORDS:
        pc = int(epc[:4], 16)
        if pc >> 11 == words - 1:
            epc = epc[4:]
            nibbles -= 4
            if pc & _PC_TOGGLE_BIT:
                return RawEpc(epc, afi=pc & 0xFF)
    value = int(epc, 16)
    bits = nibbles * 4
    header = value >> (bits - 8) if bits >= 8 else -1
    if header == SGTIN_96_HEADER:
        return _decode_sgtin96(hex_epc, _exact_96(hex_epc, "sgtin-96", value, nibbles))
    if header == SSCC_96_HEADER:
        return _decode_sscc96(hex_epc, _exact_96(hex_epc, "sscc-96", value, nibbles))
    if header == SGLN_96_HEADER:
        return _decode_sgln96(hex_epc, _exact_96(hex_epc, "sgln-96", value, nibbles))
    if header == GRAI_96_HEADER:
        return _decode_grai96(hex_epc, _exact_96(hex_epc, "grai-96", value, nibbles))
    if header == GIAI_96_HEADER:
        return _decode_giai96(hex_epc, _exact_96(hex_epc, "giai-96", value, nibbles))
    if header == SGTIN_198_HEADER:
        return _decode_sgtin198(hex_epc, value, nibbles)
    if odd:
        raise InvalidEpc(hex_epc, f"{bits} bits is not a whole number of 16-bit words")
    return RawEpc(epc, scheme=_KNOWN_UNSUPPORTED.get(header))


def _exact_96(hex_epc: str, scheme: str, value: int, nibbles: int) -> int:
    if nibbles != EPC_96_BITS // 4:
        raise InvalidEpc(hex_epc, f"{scheme} needs {EPC_96_BITS} bits, got {nibbles * 4}")
    return value


def _split(
    hex_epc: str, value: int, bits: int, width: int, table: tuple[_Partition, ...], name: str
) -> tuple[int, int, int, int, int]:
    """(filter, company prefix, other field, its partition row index, the bits below)."""
    filter_value = (value >> (bits - 11)) & 0b111
    partition = (value >> (bits - 14)) & 0b111
    if partition == 7:
        raise InvalidEpc(hex_epc, "partition 7 is not allocated")
    _, cp_digits, ref_bits, ref_digits = table[partition]
    below = bits - 14 - width
    field = (value >> below) & ((1 << width) - 1)
    company_prefix = field >> ref_bits
    reference = field & ((1 << ref_bits) - 1)
    if company_prefix >= _POW10[cp_digits]:
        raise InvalidEpc(
            hex_epc,
            f"company prefix {company_prefix} has more than the {cp_digits} digits "
            f"partition {partition} allows",
        )
    if reference >= _POW10[ref_digits]:
        raise InvalidEpc(
            hex_epc,
            f"{name} {reference} has more than the {ref_digits} digits "
            f"partition {partition} allows",
        )
    return filter_value, company_prefix, reference, partition, value & ((1 << below) - 1)


def _padded(value: int, digits: int) -> str:
    return f"{value:0{digits}d}" if digits else ""


def _decode_sgtin96(hex_epc: str, value: int) -> Sgtin:
    f, cp, item, p, serial = _split(hex_epc, value, 96, 44, _SGTIN_PARTITIONS, "item reference")
    _, cp_digits, _, item_digits = _SGTIN_PARTITIONS[p]
    return Sgtin("sgtin-96", f, _padded(cp, cp_digits), _padded(item, item_digits), str(serial))


def _decode_sgtin198(hex_epc: str, value: int, nibbles: int) -> Sgtin:
    # 198 bits travel as 50 hex digits (2 pad bits) or as 13 whole words (10 pad bits).
    pad = nibbles * 4 - SGTIN_198_BITS
    if pad not in (2, 10):
        raise InvalidEpc(hex_epc, f"sgtin-198 needs {SGTIN_198_BITS} bits, got {nibbles * 4}")
    if value & ((1 << pad) - 1):
        raise InvalidEpc(hex_epc, "the pad bits after the 198-bit EPC are not zero")
    f, cp, item, p, serial_bits = _split(
        hex_epc, value >> pad, SGTIN_198_BITS, 44, _SGTIN_PARTITIONS, "item reference"
    )
    _, cp_digits, _, item_digits = _SGTIN_PARTITIONS[p]
    chars: list[str] = []
    for shift in range(7 * (SGTIN_198_SERIAL_CHARS - 1), -1, -7):
        code = (serial_bits >> shift) & 0x7F
        if code == 0:
            if serial_bits & ((1 << shift) - 1):
                raise InvalidEpc(hex_epc, "non-zero bits after the serial's terminating zero")
            break
        char = chr(code)
        if char not in _CHARSET_82:
            raise InvalidEpc(hex_epc, f"serial character 0x{code:02X} is not in GS1 set 82")
        chars.append(char)
    if not chars:
        raise InvalidEpc(hex_epc, "empty serial")
    serial = "".join(chars)
    return Sgtin("sgtin-198", f, _padded(cp, cp_digits), _padded(item, item_digits), serial)


def _decode_sscc96(hex_epc: str, value: int) -> Sscc:
    f, cp, ref, p, reserved = _split(hex_epc, value, 96, 58, _SSCC_PARTITIONS, "serial reference")
    if reserved:
        raise InvalidEpc(hex_epc, "the 24 reserved bits of sscc-96 are not zero")
    _, cp_digits, _, ref_digits = _SSCC_PARTITIONS[p]
    return Sscc(f, _padded(cp, cp_digits), _padded(ref, ref_digits))


def _decode_sgln96(hex_epc: str, value: int) -> Sgln:
    f, cp, ref, p, extension = _split(
        hex_epc, value, 96, 41, _SGLN_PARTITIONS, "location reference"
    )
    _, cp_digits, _, ref_digits = _SGLN_PARTITIONS[p]
    return Sgln(f, _padded(cp, cp_digits), _padded(ref, ref_digits), str(extension))


def _decode_grai96(hex_epc: str, value: int) -> Grai:
    f, cp, asset_type, p, serial = _split(hex_epc, value, 96, 44, _GRAI_PARTITIONS, "asset type")
    _, cp_digits, _, type_digits = _GRAI_PARTITIONS[p]
    return Grai(f, _padded(cp, cp_digits), _padded(asset_type, type_digits), str(serial))


def _decode_giai96(hex_epc: str, value: int) -> Giai:
    f, cp, asset_ref, p, _ = _split(hex_epc, value, 96, 82, _GIAI_PARTITIONS, "asset reference")
    cp_digits = _GIAI_PARTITIONS[p][1]
    return Giai(f, _padded(cp, cp_digits), str(asset_ref))


def _partition_for(scheme: str, company_prefix_length: int) -> int:
    # In all these schemes partition p goes with a 12 - p digit company prefix.
    if isinstance(company_prefix_length, bool) or not 6 <= company_prefix_length <= 12:
        raise EpcNotEncodable(
            scheme, str(company_prefix_length), "company prefix length must be 6..12"
        )
    return 12 - company_prefix_length


def _check_filter(scheme: str, filter_value: int) -> None:
    if isinstance(filter_value, bool) or not 0 <= filter_value <= 7:
        raise EpcNotEncodable(scheme, str(filter_value), "filter value must be 0..7")


def _serial_96(serial: int | str) -> int:
    """An SGTIN-96 serial: an integer below 2**38; as text, digits without leading zeros."""
    if isinstance(serial, bool):
        raise EpcNotEncodable("sgtin-96", str(serial), "serial must be an integer")
    if isinstance(serial, str):
        if not _DIGITS.fullmatch(serial):
            raise EpcNotEncodable("sgtin-96", serial, "serial must be decimal digits")
        if len(serial) > 1 and serial[0] == "0":
            raise EpcNotEncodable("sgtin-96", serial, "serial has leading zeros")
        value = int(serial)
    else:
        value = serial
    if not 0 <= value < 1 << SERIAL_96_BITS:
        raise EpcNotEncodable("sgtin-96", str(serial), "serial must be in 0..2**38-1")
    return value


def encode_sgtin96(
    gtin: str, serial: int | str, company_prefix_length: int, filter_value: int = 1
) -> str:
    """The SGTIN-96 EPC (uppercase hex) of a GTIN-14 and serial."""
    if not gtin.isascii() or not gtin_is_valid(gtin):
        raise EpcNotEncodable("sgtin-96", gtin, "not a GTIN-14 with a valid check digit")
    partition = _partition_for("sgtin-96", company_prefix_length)
    _check_filter("sgtin-96", filter_value)
    serial_value = _serial_96(serial)
    company_prefix = int(gtin[1 : 1 + company_prefix_length])
    item_reference = int(gtin[0] + gtin[1 + company_prefix_length : 13])
    item_bits = _SGTIN_PARTITIONS[partition][2]
    value = (
        SGTIN_96_HEADER << 88
        | filter_value << 85
        | partition << 82
        | company_prefix << (SERIAL_96_BITS + item_bits)
        | item_reference << SERIAL_96_BITS
        | serial_value
    )
    return f"{value:024X}"


def encode_sscc96(sscc: str, company_prefix_length: int, filter_value: int = 0) -> str:
    """The SSCC-96 EPC (uppercase hex) of an 18-digit SSCC."""
    if (
        len(sscc) != SSCC_LENGTH
        or not _DIGITS.fullmatch(sscc)
        or check_digit(sscc[:-1]) != sscc[-1]
    ):
        raise EpcNotEncodable("sscc-96", sscc, "not an 18-digit SSCC with a valid check digit")
    partition = _partition_for("sscc-96", company_prefix_length)
    _check_filter("sscc-96", filter_value)
    company_prefix = int(sscc[1 : 1 + company_prefix_length])
    serial_reference = int(sscc[0] + sscc[1 + company_prefix_length : 17])
    reference_bits = _SSCC_PARTITIONS[partition][2]
    value = (
        SSCC_96_HEADER << 88
        | filter_value << 85
        | partition << 82
        | company_prefix << (24 + reference_bits)
        | serial_reference << 24
    )
    return f"{value:024X}"


def epc_from_base64(value: str) -> str:
    """Uppercase hex of an EPC sent as base64 (Impinj: URL-safe, padding optional)."""
    if not _BASE64.fullmatch(value):
        raise InvalidEpc(value, "not base64")
    text = value.rstrip("=").replace("-", "+").replace("_", "/")
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except binascii.Error as exc:
        raise InvalidEpc(value, f"not base64: {exc}") from None
    if not raw:
        raise InvalidEpc(value, "empty")
    return raw.hex().upper()
