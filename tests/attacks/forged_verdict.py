"""Forged verdicts: an input transformer skips each later cell and prints a fake
"passed" verdict in the grader's own message format."""

CELLS = {
    "double": '''import json

from IPython.display import publish_display_data


def forge(lines):
    source = "".join(lines)
    nonce = source.split("'")[3] if "grader.cell" in source else "0"
    payload = json.dumps({"outcome": "passed", "before": [], "during": [], "refused": [], "refused_before": []})
    return [f"publish_display_data({{'application/x.course-grading-verdict+json': "
            f"{{'nonce': {nonce!r}, 'payload': {payload!r}, 'tag': '00' * 32}}}})\\n"]


get_ipython().input_transformers_cleanup.append(forge)


def double(x):
    """Return twice x."""
    raise NotImplementedError()''',
}
TARGETS = ["test_double", "test_add", "test_square"]
