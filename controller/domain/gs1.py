"""GS1 keys: the mod-10 check digit, GTIN-14 and SSCC."""

from __future__ import annotations

SSCC_LENGTH = 18


def check_digit(body: str) -> str:
    """GS1 mod-10: weights 3,1,3,... from the right of the body (the key without its check)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return str((10 - total % 10) % 10)


def gtin_is_valid(gtin: str) -> bool:
    return len(gtin) == 14 and gtin.isdigit() and check_digit(gtin[:-1]) == gtin[-1]


def make_sscc(extension_digit: int, company_prefix: str, serial_reference: int) -> str:
    """SSCC = extension digit + company prefix + serial reference (padded) + check digit."""
    width = SSCC_LENGTH - 2 - len(company_prefix)
    if not 0 <= serial_reference < 10**width:
        raise ValueError(f"serial reference {serial_reference} needs more than {width} digits")
    body = f"{extension_digit}{company_prefix}{serial_reference:0{width}d}"
    return body + check_digit(body)


def sscc_from_barcode(code: str) -> str | None:
    """The SSCC in a GS1-128 scan `00` + 18 digits (with or without the `(00)` brackets)."""
    code = code.strip().replace("(00)", "00")
    if len(code) == 20 and code.startswith("00") and code.isdigit():
        sscc = code[2:]
        if check_digit(sscc[:-1]) == sscc[-1]:
            return sscc
    return None
