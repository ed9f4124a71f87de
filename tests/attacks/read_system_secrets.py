"""Reading the system's secrets (/etc/shadow, /root) and other users' homes."""

CELLS = {
    "double": '''results = {}
for path in ("/etc/shadow", "/root/.bashrc", "/etc/hostname", "/etc/passwd"):
    try:
        with open(path) as file:
            results[path] = "read"
    except OSError as error:
        results[path] = type(error).__name__
print("secrets:", results)


def double(x):
    """Return twice x."""
    raise NotImplementedError()''',
}
HONEST = ["add", "square"]
TARGETS = ["test_double"]
KEEPS = ["test_add", "test_square"]


def check(course, student, graded):
    printed = "".join(out.get("text", "") for cell in graded.cells if cell.cell_type == "code" for out in cell.outputs)
    assert "'/etc/shadow': 'PermissionError'" in printed and "'/root/.bashrc': 'PermissionError'" in printed, printed[-400:]
    assert "'/etc/passwd': 'read'" in printed, f"ordinary system files should stay readable: {printed[-400:]}"
