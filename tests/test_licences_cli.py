"""`onceonly licences ...` and `onceonly keys ...` as a department and a verifier run them.

End to end through the CLI on a fresh SQLite home: issue a business licence to a file, verify
the file (exit code 0 only when valid), show and list it with the holder masked, amend,
suspend, reinstate and revoke it, rotate and revoke keys, publish the JWKS. The written
documents are also checked without onceonly's code: with the JWKS the CLI publishes, imported
by joserfc, and the independent verifier in `vc_reference`.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import vc_reference
from click.testing import Result
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from joserfc.jwk import KeySet, OKPKey
from licence_helpers import BUSINESS_LICENCE, MARRIAGE_CERTIFICATE, business_fields, company
from typer.testing import CliRunner

from catalog.loader import load_catalogue
from exchange.cli.main import app
from exchange.identifiers import uscc
from licences.identifier import LicenceId, serial

MARKET = "market_regulation"
runner = CliRunner()


@pytest.fixture(autouse=True)
def initialised(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh home after `onceonly init`, with a console wide enough for identifiers."""
    monkeypatch.setenv("COLUMNS", "200")
    ok("init")
    return home


def onceonly(*args: str) -> Result:
    return runner.invoke(app, list(args))


def ok(*args: str) -> Result:
    result = onceonly(*args)
    assert result.exit_code == 0, result.output
    return result


def refused(*args: str) -> Result:
    result = onceonly(*args)
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output
    return result


def issue_args(number: int, *, omit: str | None = None, **changes: str) -> list[str]:
    args = ["licences", "issue", "--type", BUSINESS_LICENCE, "--issuer", MARKET]
    args += ["--holder", company(number), "--name", f"杭州测试{number}有限公司"]
    for name, value in business_fields(number, **changes).items():
        if name != omit:
            args += ["--field", f"{name}={value}"]
    return args


def issue(folder: Path, number: int = 1) -> tuple[str, Path]:
    """Issue a business licence to company ``number`` into a file; its id and the file."""
    path = folder / f"licence-{number}.json"
    result = ok(*issue_args(number), "--out", str(path))
    licence_id = json.loads(path.read_text(encoding="utf-8"))["credentialSubject"]["licence"][
        "identifier"
    ]
    assert licence_id in result.stdout  # the id is printed
    return licence_id, path


def export(licence_id: str, path: Path) -> Path:
    ok("licences", "export", licence_id, "--out", str(path))
    return path


def verify(path: Path) -> tuple[str, str, int]:
    """The outcome, reason and exit code of `licences verify --json`."""
    result = onceonly("licences", "verify", str(path), "--json")
    answer = json.loads(result.stdout)
    assert set(answer) == {"outcome", "reason", "licence"}
    return answer["outcome"], answer["reason"], result.exit_code


def shown(result: Result, label: str) -> str:
    """The value of one row of the licence table a command prints."""
    for line in result.stdout.splitlines():
        parts = line.split()
        if parts and parts[0] == label:
            return parts[1]
    raise AssertionError(f"no {label!r} row in:\n{result.stdout}")


def key_rows(owner: str | None = None) -> list[tuple[str, str, str]]:
    """(key id, owner, state) of each row of `keys list`."""
    args = ["keys", "list"] + (["--owner", owner] if owner else [])
    rows = []
    for line in ok(*args).stdout.splitlines():
        cells = [cell.strip() for cell in line.split("│")[1:-1]]
        if len(cells) == 4 and cells[0] != "key id":
            rows.append((cells[0], cells[1], cells[3]))
    return rows


def signing_key(owner: str) -> str:
    (key_id,) = [key_id for key_id, _owner, state in key_rows(owner) if state == "signs"]
    return key_id


def proof_key(path: Path) -> str:
    """The key id a document's proof names (the fragment of its verification method)."""
    return json.loads(path.read_text(encoding="utf-8"))["proof"]["verificationMethod"].split("#")[1]


def test_init_gives_every_department_and_the_exchange_one_signing_key() -> None:
    owners = {department.code for department in load_catalogue().departments} | {"exchange"}
    rows = key_rows()
    assert sorted(owner for _key, owner, _state in rows) == sorted(owners)
    assert {state for _key, _owner, state in rows} == {"signs"}
    assert len({key for key, _owner, _state in rows}) == len(rows)


def test_an_issued_licence_file_verifies_valid_also_without_onceonly(tmp_path: Path) -> None:
    _licence_id, path = issue(tmp_path)
    result = onceonly("licences", "verify", str(path))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("valid")
    assert verify(path) == (
        "valid",
        "signature, issuer key, status and validity all check",
        0,
    )
    # the same document checked by a third party: the key from the published JWKS
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["credentialSubject"]["licence"]["address"] == "杭州市西湖区文三路1号"
    published = {key["kid"]: key for key in json.loads(ok("keys", "jwks").stdout)["keys"]}
    jwk = published[proof_key(path)]
    raw = base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4))
    assert vc_reference.verify(document, Ed25519PublicKey.from_public_bytes(raw))


def test_show_and_list_never_print_the_holder_in_full(tmp_path: Path) -> None:
    licence_id, _path = issue(tmp_path)
    holder = company(1)
    shown_result = ok("licences", "show", licence_id)
    assert shown(shown_result, "licence") == licence_id
    assert shown(shown_result, "status") == "active"
    assert "杭州测试1有限公司" in shown_result.stdout
    assert holder not in shown_result.output
    listed = ok("licences", "list", "--holder", holder.lower())
    assert licence_id in listed.stdout
    assert "1 licences held by " in listed.stdout
    assert holder not in listed.output
    nothing = ok("licences", "list", "--holder", company(2))
    assert "0 licences held by" in nothing.stdout
    # the same as JSON lines, for scripts: whole identifiers, never the holder
    lines = ok("licences", "list", "--holder", holder, "--json").stdout.splitlines()
    assert [json.loads(line)["licence"] for line in lines] == [licence_id]
    assert json.loads(lines[0])["status"] == "active" and holder not in lines[0]
    # and who read the holder's data (issuing it was not a read): nothing yet
    assert ok("audit", "access", holder, "--json").stdout == ""


def test_show_and_list_mask_a_uscc_as_a_uscc(tmp_path: Path) -> None:
    licence_id, _path = issue(tmp_path)
    holder = company(1)
    assert uscc.mask(holder) in ok("licences", "show", licence_id).stdout
    assert "held by " + uscc.mask(holder) in ok("licences", "list", "--holder", holder).stdout


def test_an_amendment_is_version_002_and_supersedes_the_first(tmp_path: Path) -> None:
    licence_id, first = issue(tmp_path)
    amended = ok(
        "licences",
        "amend",
        licence_id,
        "--issuer",
        MARKET,
        "--field",
        "address=杭州市滨江区江南大道1号",
        "--reason",
        "moved",
    )
    new_id = shown(amended, "licence")
    old, new = LicenceId.parse(licence_id), LicenceId.parse(new_id)
    assert (new.series, new.version, old.version) == (old.series, 2, 1)
    assert new_id.split(".")[-2] == "002"

    outcome, reason, code = verify(first)
    assert (outcome, code) == ("superseded", 1)
    assert "moved" in reason
    text = onceonly("licences", "verify", str(first))
    assert text.exit_code == 1 and text.stdout.startswith("superseded")

    second = export(new_id, tmp_path / "second.json")
    assert verify(second)[::2] == ("valid", 0)
    document = json.loads(second.read_text(encoding="utf-8"))
    assert document["credentialSubject"]["licence"]["address"] == "杭州市滨江区江南大道1号"
    assert document["credentialSubject"]["licence"]["name"] == "杭州测试1有限公司"  # kept
    assert shown(ok("licences", "show", licence_id), "status") == "superseded"
    assert new_id in ok("licences", "list", "--holder", company(1)).stdout


def test_suspend_reinstate_and_revoke_with_a_reason(tmp_path: Path) -> None:
    licence_id, path = issue(tmp_path)
    ok("licences", "suspend", licence_id, "--issuer", MARKET, "--reason", "under inspection")
    outcome, reason, code = verify(path)
    assert (outcome, code) == ("suspended", 1) and "under inspection" in reason
    assert shown(ok("licences", "show", licence_id), "status") == "suspended"

    ok("licences", "reinstate", licence_id, "--issuer", MARKET, "--reason", "inspection passed")
    assert verify(path)[::2] == ("valid", 0)

    ok("licences", "revoke", licence_id, "--issuer", MARKET, "--reason", "deregistered")
    outcome, reason, code = verify(path)
    assert (outcome, code) == ("revoked", 1) and "deregistered" in reason
    # revocation is final
    result = refused("licences", "reinstate", licence_id, "--issuer", MARKET, "--reason", "x")
    assert "revoked" in result.stderr
    refused("licences", "suspend", licence_id, "--issuer", MARKET, "--reason", "x")


def test_a_status_change_needs_a_reason_and_the_issuing_department(tmp_path: Path) -> None:
    licence_id, path = issue(tmp_path)
    result = refused("licences", "revoke", licence_id, "--issuer", MARKET)
    assert "--reason" in result.output
    result = refused("licences", "revoke", licence_id, "--issuer", "civil_affairs", "--reason", "x")
    assert "civil_affairs" in result.stderr and MARKET in result.stderr
    assert verify(path)[0] == "valid"


def test_a_tampered_document_has_a_bad_signature(tmp_path: Path) -> None:
    _licence_id, path = issue(tmp_path)
    document = json.loads(path.read_text(encoding="utf-8"))
    document["credentialSubject"]["licence"]["registered_capital"] = "100000.00"
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    assert verify(tampered)[::2] == ("bad_signature", 1)
    text = onceonly("licences", "verify", str(tampered))
    assert text.exit_code == 1 and text.stdout.startswith("bad_signature")


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"this is not a licence", "not JSON"),
        ("营业执照".encode("gb18030"), "not JSON"),
        (b"[1, 2, 3]", "not a JSON object"),
        (b'{"credentialSubject": {}}', "identifier"),
    ],
)
def test_a_document_that_is_not_a_licence_is_malformed(
    tmp_path: Path, content: bytes, words: str
) -> None:
    path = tmp_path / "document.json"
    path.write_bytes(content)
    outcome, reason, code = verify(path)
    assert (outcome, code) == ("malformed", 1)
    assert words in reason


def test_a_rotated_key_still_verifies_what_it_signed(tmp_path: Path) -> None:
    old_key = signing_key(MARKET)
    _licence_id, before = issue(tmp_path, 1)
    rotated = ok("keys", "rotate", MARKET)
    new_key = signing_key(MARKET)
    assert new_key != old_key and new_key in rotated.stdout
    states = {key: state for key, _owner, state in key_rows(MARKET)}
    assert states[old_key].startswith("retired") and states[new_key] == "signs"

    assert proof_key(before) == old_key
    assert verify(before)[::2] == ("valid", 0)
    _licence_id, after = issue(tmp_path, 2)
    assert proof_key(after) == new_key
    assert verify(after)[::2] == ("valid", 0)


def test_what_a_revoked_key_signed_since_its_leak_fails(tmp_path: Path) -> None:
    since = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S")
    leaked = signing_key(MARKET)
    _licence_id, path = issue(tmp_path)
    result = ok("keys", "revoke", "--key", leaked, "--reason", "leaked", "--since", since)
    fresh = signing_key(MARKET)
    assert fresh != leaked and fresh in result.stdout  # its owner signs with a new key at once
    outcome, reason, code = verify(path)
    assert (outcome, code) == ("revoked_key", 1) and "leaked" in reason
    assert dict((key, state) for key, _owner, state in key_rows(MARKET))[leaked].startswith(
        "revoked"
    )
    _licence_id, later = issue(tmp_path, 2)
    assert proof_key(later) == fresh and verify(later)[::2] == ("valid", 0)


def test_what_a_revoked_key_signed_before_its_leak_still_verifies(tmp_path: Path) -> None:
    leaked = signing_key(MARKET)
    _licence_id, path = issue(tmp_path)
    created = json.loads(path.read_text(encoding="utf-8"))["proof"]["created"]
    since = datetime.fromisoformat(created) + timedelta(seconds=1)
    ok(
        "keys",
        "revoke",
        "--key",
        leaked,
        "--reason",
        "leaked",
        "--since",
        f"{since:%Y-%m-%dT%H:%M:%S}",
    )
    assert verify(path)[::2] == ("valid", 0)


def test_the_jwks_imports_in_joserfc_key_by_key(tmp_path: Path) -> None:
    ok("keys", "rotate", MARKET)
    ok("keys", "revoke", "--key", signing_key("psb"), "--reason", "leaked")
    published = json.loads(ok("keys", "jwks").stdout)
    listed = {key for key, _owner, _state in key_rows()}
    assert len(listed) == len(load_catalogue().departments) + 1 + 2  # a rotation, a revocation
    key_set = KeySet.import_key_set(published)
    assert len(key_set.keys) == len(published["keys"]) == len(listed)
    for jwk in published["keys"]:
        key = OKPKey.import_key(jwk)
        assert key.as_dict(private=False)["crv"] == "Ed25519"
        assert key.thumbprint() == jwk["kid"]  # the kid is the RFC 7638 thumbprint
    assert {jwk["kid"] for jwk in published["keys"]} == listed
    one = json.loads(ok("keys", "jwks", "--owner", MARKET).stdout)
    assert len(one["keys"]) == 2


def test_a_department_cannot_issue_a_type_it_does_not_issue() -> None:
    args = issue_args(1)
    args[args.index(BUSINESS_LICENCE)] = MARRIAGE_CERTIFICATE
    result = refused(*args)
    assert MARKET in result.stderr and "civil_affairs" in result.stderr
    result = refused(*issue_args(1)[:5], "civil_affairs", *issue_args(1)[6:])
    assert "civil_affairs" in result.stderr and "does not issue" in result.stderr


def test_a_bad_holder_is_refused_without_echoing_it() -> None:
    valid = company(1)
    wrong = valid[:-1] + ("0" if valid[-1] != "0" else "1")
    args = issue_args(1)
    args[args.index(valid)] = wrong  # the --holder value (the uscc field keeps the valid one)
    result = refused(*args)
    assert "USCC" in result.stderr
    assert wrong not in result.output


def test_a_missing_or_mistyped_field_is_named() -> None:
    result = refused(*issue_args(1, omit="address"))
    assert "address: missing" in result.stderr
    result = refused(*issue_args(1, established_date="2020-02-30"))
    assert "established_date" in result.stderr
    result = refused(*issue_args(1), "--field", "colour=red")
    assert "colour: not a field of this licence type" in result.stderr
    result = refused(*issue_args(1), "--field", "no equals sign")
    assert "NAME=VALUE" in result.stderr


def test_an_unknown_licence_is_refused(tmp_path: Path) -> None:
    licence_id, _path = issue(tmp_path)
    parsed = LicenceId.parse(licence_id)
    unknown = str(LicenceId(parsed.type_code, parsed.issuer, serial(2020, 999), 1))
    result = refused("licences", "show", unknown)
    assert f"no licence {unknown}" in result.stderr
    result = refused("licences", "show", "not-a-licence")
    assert "is not a licence identifier" in result.stderr
    refused("licences", "amend", unknown, "--issuer", MARKET, "--field", "address=x")
    refused("licences", "export", unknown)
    result = refused("keys", "revoke", "--key", "no-such-key", "--reason", "leaked")
    assert "no key" in result.stderr


def test_a_key_for_an_unknown_department_is_refused() -> None:
    result = refused("keys", "rotate", "nobody")
    assert "nobody" in result.stderr
