"""Write the public schema's SDL to gateway/schema.graphql (`make schema`)."""

from pathlib import Path

from gateway.config import Settings
from gateway.schema import build_schema

SCHEMA_FILE = Path(__file__).with_name("schema.graphql")


def main() -> None:
    SCHEMA_FILE.write_text(build_schema(Settings()).as_str() + "\n")
    print(f"wrote {SCHEMA_FILE}")


if __name__ == "__main__":
    main()
