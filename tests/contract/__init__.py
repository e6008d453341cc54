"""Schema validation against the vendors' own documents.

`openapi` holds Scalekit's AgentKit OpenAPI document (plus the wire facts of CONTRACT.md that
the document does not state); `discovery` holds Google's Gmail discovery document; `hosted_page`
reads the sandbox's consent page with the standard library's HTML parser. Every validator is
strict: a field the document does not name is an error.
"""
