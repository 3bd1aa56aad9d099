"""SecureStrings: ConvertTo-SecureString, and the Marshal calls that read one back.

A SecureString is psrpcore's PSSecureString. One made by a script holds its plain text;
psrpcore encrypts it with the session key when it is serialized, as Windows does: the
server always has a session key, and a client that never asked for it cannot decrypt.
One the client sent holds cipher text and the session's cipher, decrypted only when a
script reads it (Windows decrypts while deserializing, so a SecureString under another
key fails there; here it fails where it is read).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from psrpcore import MissingCipherError
from psrpcore.types import ErrorCategory, ErrorRecord, InvocationInfo, PSSecureString

from psfleet.simfleet.minips import records
from psfleet.simfleet.minips.commands import Bound, cmdlet
from psfleet.simfleet.minips.values import clr_name, to_number, to_string

if TYPE_CHECKING:
    from psfleet.simfleet.minips.evaluator import Runtime

_CONVERT = "Microsoft.PowerShell.Commands.ConvertToSecureStringCommand"
_MARSHAL = "runtime.interopservices.marshal"
_TO_POINTER = frozenset({"securestringtobstr", "securestringtoglobalallocunicode"})
_FROM_POINTER = frozenset({"ptrtostringauto", "ptrtostringbstr", "ptrtostringuni"})
_FREE = frozenset({"zerofreebstr", "zerofreeglobalallocunicode"})
# Simulated unmanaged memory starts at a plausible 64-bit heap address; blocks are 64 bytes apart.
_FIRST_POINTER = 0x1D2_C4A3_0E80
_BLOCK = 0x40
_FORCE_REQUIRED = (
    "The system cannot protect plain text input. To suppress this warning and convert the "
    "plain text to a SecureString, reissue the command specifying the Force parameter. "
    "For more information ,type: get-help ConvertTo-SecureString."
)


class Undecryptable(Exception):
    """A SecureString that was not encrypted with this session's key."""


class MarshalError(Exception):
    """A Marshal call PowerShell refuses: its message and FullyQualifiedErrorId."""

    def __init__(self, message: str, error_id: str) -> None:
        super().__init__(message)
        self.message = message
        self.error_id = error_id


@cmdlet(
    "ConvertTo-SecureString",
    _CONVERT,
    params=("String",),
    switches=("AsPlainText", "Force"),
    positional=("String",),
    pure=False,  # the serialized value is encrypted with the session's key
)
def convert_to_secure_string(rt: Runtime, bound: Bound, inputs: Iterator[Any]) -> Iterator[Any]:
    for value in [bound.get("String")] if bound.has("String") else inputs:
        if not bound.get("AsPlainText"):
            rt.write_error(_not_protected_here(rt.where(bound.pos, bound.name)), bound)
        elif not bound.get("Force"):
            rt.write_error(_force_required(rt.where(bound.pos, bound.name)), bound)
        else:
            yield PSSecureString(to_string(value))


def is_marshal(type_name: str) -> bool:
    return type_name.removeprefix("system.") == _MARSHAL


def marshal_call(memory: dict[int, str], method: str, args: list[Any]) -> Any:
    """[Runtime.InteropServices.Marshal]::method(args), with memory mapping the
    pointers handed out to the strings they hold. A void call returns [] (no output).

    Raises LookupError for a method not simulated, MarshalError, Undecryptable.
    """
    lower = method.lower()
    if lower not in _TO_POINTER | _FROM_POINTER | _FREE:
        raise LookupError(method)
    if len(args) != 1:
        raise MarshalError(
            f'Cannot find an overload for "{method}" and the argument count: "{len(args)}".',
            "MethodCountCouldNotFindBest",
        )
    (arg,) = args
    if lower in _TO_POINTER:
        pointer = max(memory, default=_FIRST_POINTER - _BLOCK) + _BLOCK
        memory[pointer] = plain_text(_secure_string(method, arg))
        return pointer
    address = int(to_number(arg or 0))
    if lower in _FREE:
        memory.pop(address, None)
        return []
    if address == 0:
        return None
    if address not in memory:
        raise MarshalError(
            f'Exception calling "{method}" with "1" argument(s): "Attempted to read or write '
            'protected memory. This is often an indication that other memory is corrupt."',
            "AccessViolationException",
        )
    return memory[address]


def plain_text(value: PSSecureString) -> str:
    try:
        return str(value.decrypt())
    except (ValueError, MissingCipherError):
        raise Undecryptable from None


def undecryptable() -> ErrorRecord:
    """Reading a SecureString the client encrypted with a key this session never sent."""
    exc = records.exception(
        ["System.Xml.XmlException", "System.SystemException"],
        "The SecureString could not be decrypted: it was not encrypted with this session's key.",
    )
    return records.record(exc, ErrorCategory.InvalidData, "DeserializeSecureStringFailed")


def _secure_string(method: str, value: Any) -> PSSecureString:
    if value is None:
        raise MarshalError(
            f'Exception calling "{method}" with "1" argument(s): '
            '"Value cannot be null.\r\nParameter name: s"',
            "ArgumentNullException",
        )
    if not isinstance(value, PSSecureString):
        raise MarshalError(
            f'Cannot convert argument "s", with value: "{to_string(value)}", for "{method}" to '
            f'type "System.Security.SecureString": "Cannot convert the "{to_string(value)}" '
            f'value of type "{clr_name(value)}" to type "System.Security.SecureString"."',
            "MethodArgumentConversionInvalidCastArgument",
        )
    return value


def _force_required(where: InvocationInfo | None) -> ErrorRecord:
    exc = records.exception(["System.ArgumentException", "System.SystemException"], _FORCE_REQUIRED)
    return records.record(
        exc,
        ErrorCategory.InvalidArgument,
        f"ImportSecureString_ForceRequired,{_CONVERT}",
        activity="ConvertTo-SecureString",
        where=where,
    )


def _not_protected_here(where: InvocationInfo | None) -> ErrorRecord:
    """Without -AsPlainText the string is DPAPI-protected text, which only the user and
    computer that protected it can read: never this simulated session."""
    exc = records.exception(
        ["System.Security.Cryptography.CryptographicException", "System.SystemException"],
        "Key not valid for use in specified state.\r\n",
        -2146893813,
    )
    return records.record(
        exc,
        ErrorCategory.InvalidArgument,
        f"ImportSecureString_InvalidArgument_CryptographicError,{_CONVERT}",
        activity="ConvertTo-SecureString",
        where=where,
    )
