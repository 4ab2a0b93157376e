"""XML bodies: the xmlns:i requirement, any root name, no Content-Type, and defusedxml's walls
against entity expansion, external entities and DTDs."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from pushgate.providers.recording import Recorder
from tests.integration.dialects.pushapi.conftest import (
    ALICE_TOKENS,
    Company,
    field_of,
    refusal,
    stored_notifications,
)
from tests.integration.dialects.pushapi.samples import PATH, XSI, read_xml, xml_body

pytestmark = pytest.mark.anyio


async def push_xml(
    client: httpx.AsyncClient,
    content: bytes,
    *,
    content_type: str | None = "application/xml",
    answer: str | None = None,
) -> httpx.Response:
    """POST an XML body; without a Content-Type header when `content_type` is None."""
    return await client.post(
        PATH,
        params={"format": answer} if answer else {},
        content=content,
        headers={"Content-Type": content_type} if content_type else {},
    )


def xml_refusal(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/xml; charset=utf-8"
    root, body = read_xml(response.content)
    assert root == "ErrorResponse"
    found: dict[str, object] = body["ResponseStatus"]
    return found


@pytest.mark.parametrize("content_type", ["application/xml", "text/xml; charset=utf-8", None])
@pytest.mark.parametrize("root", ["PushRequest", "Anything"])
async def test_an_xml_body_with_the_namespace_sends(
    client: httpx.AsyncClient,
    company: Company,
    recorder: Recorder,
    content_type: str | None,
    root: str,
) -> None:
    content = xml_body(company.body(UserId="alice", Title="Goal!", Body="2:1 & more"), root=root)
    response = await push_xml(client, content, content_type=content_type)
    assert response.status_code == 200, response.text
    name, body = read_xml(response.content)
    assert (name, body["UserId"]) == ("PushResponse", "alice")
    assert sorted(recorder.tokens()) == sorted(ALICE_TOKENS)
    assert {push.content.body for _, _, push in recorder.accepted} == {"2:1 & more"}


async def test_nil_fields_count_as_absent_and_a_default_namespace_is_fine(
    client: httpx.AsyncClient, company: Company, recorder: Recorder
) -> None:
    fields = company.body(UserEmail="alice@example.com", Title="Hi")
    fields.update(UserId=None, Body=None, UserExternalId=None, Sound=None)
    declarations = f'xmlns:i="{XSI}" xmlns="http://schemas.datacontract.org/2004/07/Vendor.Api"'
    response = await push_xml(client, xml_body(fields, declarations=declarations), answer="json")
    assert response.status_code == 200, response.text
    assert response.json()["UserId"] == "alice"
    assert {push.content.sound for _, _, push in recorder.accepted} == {None}


@pytest.mark.parametrize(
    "declarations",
    [
        "",
        f'xmlns:xsi="{XSI}"',  # the document names the prefix i
        'xmlns:i="http://www.w3.org/2001/XMLSchema"',
    ],
)
async def test_a_root_without_xmlns_i_is_400(
    client: httpx.AsyncClient, company: Company, declarations: str
) -> None:
    content = xml_body(company.body(UserId="alice", Body="hi"), declarations=declarations)
    status = xml_refusal(await push_xml(client, content), 400)
    assert "xmlns:i" in str(status["Message"])
    assert await stored_notifications(client) == []


async def test_the_namespace_on_a_child_only_is_400(
    client: httpx.AsyncClient, company: Company
) -> None:
    content = (
        b'<PushRequest><UserId xmlns:i="http://www.w3.org/2001/XMLSchema-instance">alice</UserId>'
        b"<Body>hi</Body></PushRequest>"
    )
    xml_refusal(await push_xml(client, content), 400)
    assert await stored_notifications(client) == []


BILLION_LAUGHS = f"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<PushRequest xmlns:i="{XSI}"><UserId>alice</UserId><Body>&lol9;</Body>{{credentials}}
</PushRequest>"""
EXTERNAL_ENTITY = f"""<?xml version="1.0"?>
<!DOCTYPE PushRequest [<!ENTITY secret SYSTEM "file://{{path}}">]>
<PushRequest xmlns:i="{XSI}"><UserId>alice</UserId><Body>&secret;</Body>{{credentials}}
</PushRequest>"""
PLAIN_DTD = f"""<?xml version="1.0"?>
<!DOCTYPE PushRequest SYSTEM "http://127.0.0.1:9/push.dtd">
<PushRequest xmlns:i="{XSI}"><UserId>alice</UserId><Body>hi</Body>{{credentials}}
</PushRequest>"""


@pytest.mark.parametrize(
    "template", [BILLION_LAUGHS, EXTERNAL_ENTITY, PLAIN_DTD], ids=["bomb", "xxe", "dtd"]
)
async def test_entities_external_references_and_dtds_are_400(
    client: httpx.AsyncClient,
    company: Company,
    recorder: Recorder,
    tmp_path: Path,
    template: str,
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("top-secret-contents")
    credentials = (
        f"<CompanyId>{company.company_id}</CompanyId><IntegrationKey>{company.key}</IntegrationKey>"
    )
    content = template.format(credentials=credentials, path=secret).encode()
    for answer in ("json", None):
        response = await push_xml(client, content, answer=answer)
        assert response.status_code == 400, response.text
        assert b"top-secret-contents" not in response.content
        assert b"lollol" not in response.content
    status = refusal(await push_xml(client, content, answer="json"), 400)
    assert status["Message"] == (
        "DTDs, entity declarations and external references are not accepted"
    )
    assert recorder.accepted == []
    assert await stored_notifications(client) == []


@pytest.mark.parametrize(
    "content",
    [
        b"<PushRequest",
        b"",
        b'{"UserId": "alice"}',  # JSON without a Content-Type is read as XML
        b'<?xml version="1.0" encoding="no-such-encoding"?><r/>',
        b"<a xmlns:i='" + XSI.encode() + b"'><UserId>alice</UserId></b>",
    ],
)
async def test_a_body_that_is_not_well_formed_xml_is_400(
    client: httpx.AsyncClient, company: Company, content: bytes
) -> None:
    status = xml_refusal(await push_xml(client, content, content_type=None), 400)
    assert status["Message"] == "the body is not well-formed XML"
    assert status["Errors"] == []


@pytest.mark.parametrize(
    ("element", "field"),
    [
        ("<Sound>yes</Sound>", "Sound"),
        ("<Sound></Sound>", "Sound"),
        ("<ExpirySecs>-5</ExpirySecs>", "ExpirySecs"),
        ("<ExpirySecs>1.5</ExpirySecs>", "ExpirySecs"),
        ("<ExpirySecs>2147483648</ExpirySecs>", "ExpirySecs"),
        ("<CompanyId>abc</CompanyId>", "CompanyId"),
        ("<Title><b>bold</b></Title>", "Title"),
        ("<UserId>bob</UserId>", "UserId"),  # given twice
    ],
)
async def test_an_xml_field_of_the_wrong_type_is_400_naming_it(
    client: httpx.AsyncClient, company: Company, element: str, field: str
) -> None:
    fields = company.body(UserId="alice", Body="hi")
    for name in ("Sound", "ExpirySecs", "CompanyId", "Title"):
        if element.startswith(f"<{name}>"):
            del fields[name]
    content = xml_body(fields).replace(b"</PushRequest>", element.encode() + b"</PushRequest>")
    status = refusal(await push_xml(client, content, answer="json"), 400)
    assert field_of(status) == field
    assert await stored_notifications(client) == []


async def test_xml_booleans_and_integers_take_their_schema_forms(
    client: httpx.AsyncClient, company: Company, recorder: Recorder
) -> None:
    fields = company.body(UserExternalId="ext-alice", Body="hi")
    fields.update(Sound=" 1 ", ExpirySecs="+60", CompanyId=f" {company.company_id}\n")
    response = await push_xml(client, xml_body(fields), answer="json")
    assert response.status_code == 200, response.text
    assert {push.content.sound for _, _, push in recorder.accepted} == {"default"}
