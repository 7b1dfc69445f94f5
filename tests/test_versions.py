"""versions list/show/delete and their aws spellings."""

from __future__ import annotations

import pytest

from conftest import Fn, run_cli


def test_list_latest_first_then_ascending_with_arns(fn: Fn) -> None:
    for i in range(1, 12):
        assert fn.publish(**{"app.py": f"# {i}\n"}) == str(i)
    out = fn.ok("versions", "list")
    assert [v["Version"] for v in out["Versions"]] == ["$LATEST"] + [str(i) for i in range(1, 12)]
    arns = [v["FunctionArn"] for v in out["Versions"]]
    assert arns[0].endswith("function:hello:$LATEST")
    assert arns[11].endswith("function:hello:11")
    assert out == fn.ok("list-versions-by-function")


def test_show_version_has_files_and_aliases(fn: Fn) -> None:
    fn.write("pkg/mod.py", "Y = 2\n")
    fn.publish()
    out = fn.ok("versions", "show", "1")
    assert out["Version"] == "1"
    assert out["Aliases"] == []
    assert [(f["Path"], f["Mode"], f["Size"]) for f in out["Files"]] == [
        ("app.py", "100644", len((fn.root / "app.py").read_bytes())),
        ("pkg/mod.py", "100644", 6),
    ]
    got = fn.ok("get-function", "--qualifier", "1")  # aws's shape, not versions show's
    assert got["Configuration"] == {k: v for k, v in out.items() if k not in ("Aliases", "Files")}


def test_show_latest_and_unknown(fn: Fn) -> None:
    assert fn.ok("versions", "show", "$LATEST")["Version"] == "$LATEST"
    r = fn("versions", "show", "7")
    assert r.exit_code == 254
    assert r.stderr == (
        "An error occurred (ResourceNotFoundException) when calling the GetFunction operation: "
        "Function not found: arn:aws:lambda:us-east-1:000000000000:function:hello:7\n"
    )


def test_lowercase_latest_is_not_latest(fn: Fn) -> None:
    r = fn("config", "show", "--qualifier", "$latest")
    assert r.exit_code == 254
    assert r.stderr.endswith(
        "Function not found: arn:aws:lambda:us-east-1:000000000000:function:hello:$latest\n"
    )


def test_delete_version_and_idempotent_missing(fn: Fn) -> None:
    fn.publish()
    r = fn("versions", "delete", "1")
    assert (r.exit_code, r.stdout, r.stderr) == (0, "", "")
    assert fn("versions", "delete", "1").exit_code == 0  # missing: succeeds, does nothing
    assert fn("delete-function", "--qualifier", "42").exit_code == 0
    assert [v["Version"] for v in fn.ok("versions", "list")["Versions"]] == ["$LATEST"]


def test_delete_refuses_latest_and_alias_names(fn: Fn, unchanged) -> None:
    fn.publish()
    with unchanged(fn.root):
        r = fn("versions", "delete", "$LATEST")
        assert r.exit_code == 254
        assert r.stderr.endswith(
            "(InvalidParameterValueException) when calling the DeleteFunction operation: "
            "$LATEST version cannot be deleted without deleting the function.\n"
        )
        r = fn("delete-function", "--qualifier", "prod")
        assert r.exit_code == 254
        assert r.stderr.endswith("Deletion of aliases is not currently supported.\n")
        r = fn("versions", "delete", "bad!q")
        assert r.exit_code == 254
        assert "(ValidationException)" in r.stderr
        assert "at 'qualifier' failed to satisfy constraint" in r.stderr


def test_delete_function_without_qualifier_deletes_the_repository(fn: Fn) -> None:
    fn.publish()
    assert fn("delete-function").stdout == ""
    assert not (fn.root / ".lambdaver").exists()
    assert (fn.root / "app.py").exists()


def test_qualified_function_name_must_agree(fn: Fn) -> None:
    fn.publish()
    assert fn.ok("get-function-configuration", "--function-name", "hello:1")["Version"] == "1"
    r = fn("get-function-configuration", "--function-name", "hello:1", "--qualifier", "$LATEST")
    assert r.exit_code == 254
    assert r.stderr.endswith(
        "The derived qualifier from the function name does not match the specified qualifier.\n"
    )
    arn = "arn:aws:lambda:us-east-1:000000000000:function:hello:1"
    assert fn.ok("config", "show", "--function-name", arn)["FunctionArn"] == arn
    partial = "000000000000:function:hello"
    assert fn.ok("config", "show", "--function-name", partial)["Version"] == "$LATEST"


def test_function_name_mismatch_and_foreign_region(fn: Fn) -> None:
    r = fn("versions", "list", "--function-name", "other")
    assert r.exit_code == 254
    assert r.stderr == (
        "An error occurred (ResourceNotFoundException) when calling the ListVersionsByFunction "
        "operation: Function not found: arn:aws:lambda:us-east-1:000000000000:function:other\n"
    )
    r = fn(
        "config", "show", "--function-name", "arn:aws:lambda:eu-west-1:000000000000:function:hello"
    )
    assert r.exit_code == 254
    assert "Functions from 'eu-west-1' are not reachable in this region ('us-east-1')" in r.stderr
    r = fn("config", "show", "--function-name", "bad name!")
    assert r.exit_code == 254
    assert "(ValidationException)" in r.stderr


def test_fast_json_listing_equals_the_rendered_result(fn: Fn, tmp_path, monkeypatch) -> None:
    import json

    from lambdaver.service import functions as svc
    from lambdaver.service.repository import Repository
    from lambdaver.service.settings import load_settings

    fn.write("d.txt", 'quote " and ü and \\\\ backslash')
    fn.ok("config", "set", "--description", 'multi\nline "desc"', "--env", "K1=v")
    for i in range(3):
        fn.publish(**{"app.py": f"# {i}\n"})
    fn.ok("versions", "delete", "2")
    listed = fn("versions", "list").stdout
    repo = Repository.discover(fn.root, load_settings())
    full = svc.list_versions(repo).to_aws()
    assert listed == json.dumps(full, indent=4, ensure_ascii=False) + "\n"
    # another region: the cached renderings no longer apply and are rendered afresh
    cfg = tmp_path / "eu.toml"
    cfg.write_text('region = "eu-west-1"\n')
    monkeypatch.setenv("LAMBDAVER_CONFIG", str(cfg))
    listed = fn("versions", "list").stdout
    assert "eu-west-1" in listed and "us-east-1" not in listed
    repo = Repository.discover(fn.root, load_settings())
    full = svc.list_versions(repo).to_aws()
    assert listed == json.dumps(full, indent=4, ensure_ascii=False) + "\n"


def test_versions_published_without_a_view_are_listed_alike(fn: Fn) -> None:
    """A library caller's publish stores no rendering unless it passes one; the listing then
    renders those versions afresh, and the CLI's publish stores the CLI's own rendering."""
    from lambdaver.cli.listing import item_view
    from lambdaver.service import functions as svc
    from lambdaver.service.repository import VERSIONS, Repository
    from lambdaver.service.settings import load_settings

    fn.publish(**{"app.py": "# cli\n"})
    repo = Repository.discover(fn.root, load_settings())
    fn.write("app.py", "# library\n")
    bare = svc.publish(repo, description="no view")
    fn.write("app.py", "# library, with the CLI's view\n")
    viewed = svc.publish(repo, view=item_view)
    repo.save_caches()
    views = {n: v for n, _raw, v in repo.meta.views(VERSIONS)}
    assert views[bare.version] is None
    assert views[viewed.version] == item_view(viewed)
    assert views["1"] == item_view(svc.get_configuration(repo, "1"))
    assert fn("versions", "list").stdout == _full_listing(fn)


def _full_listing(fn: Fn) -> str:
    import json

    from lambdaver.service import functions as svc
    from lambdaver.service.repository import Repository
    from lambdaver.service.settings import load_settings

    repo = Repository.discover(fn.root, load_settings())
    return json.dumps(svc.list_versions(repo).to_aws(), indent=4, ensure_ascii=False) + "\n"


CHANGES = {
    "publish": lambda fn: fn.publish(**{"app.py": "# new\n"}),
    "delete": lambda fn: fn.ok("versions", "delete", "1"),
    "alias create": lambda fn: fn.ok("alias", "create", "dev", "--version", "2"),
    "alias to $LATEST": lambda fn: fn.ok("alias", "create", "edge", "--version", "$LATEST"),
    "alias weights": lambda fn: fn.ok(
        "alias", "update", "prod", "--routing-config", "AdditionalVersionWeights={2=0.25}"
    ),
    "alias delete": lambda fn: fn.ok("alias", "delete", "prod"),
    "rollback": lambda fn: fn.ok("rollback", "prod"),
    "config set": lambda fn: fn.ok("config", "set", "--timeout", "30"),
    "code edit": lambda fn: fn.write("app.py", "# edited, not published\n"),
    "prune": lambda fn: fn.ok("versions", "prune", "--keep", "1"),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_the_cached_listing_follows_every_change(fn: Fn, change: str) -> None:
    for i in range(3):
        fn.publish(**{"app.py": f"# {i}\n"})
    fn.ok("alias", "create", "prod", "--version", "2")
    fn.ok("alias", "update", "prod", "--version", "3")
    cache = fn.root / ".lambdaver" / "cache" / "versions"
    first = fn("versions", "list").stdout
    assert cache.is_file()  # written by the first listing ...
    assert fn("versions", "list").stdout == first == _full_listing(fn)  # ... served by the second
    CHANGES[change](fn)
    after = fn("versions", "list").stdout
    assert after == _full_listing(fn)
    assert after != first
    assert fn("versions", "list").stdout == after


def test_a_damaged_or_foreign_listing_cache_is_ignored(fn: Fn) -> None:
    fn.publish()
    cache = fn.root / ".lambdaver" / "cache" / "versions"
    good = fn("versions", "list").stdout
    for garbage in (b"", b"\x00" * 100, b"junk", cache.read_bytes()[:-10]):
        cache.write_bytes(garbage)
        assert fn("versions", "list").stdout == good
    # a cache made for another repository's metadata (other change counter) is not used
    other = fn.root.parent / "other"
    other.mkdir()
    (other / "app.py").write_text("x = 1\n")
    assert run_cli("init", str(other), "--name", "hello").exit_code == 0
    r = run_cli("-C", str(other), "versions", "list", "--output", "json")
    assert r.exit_code == 0, r
    (fn.root / ".lambdaver" / "cache" / "versions").write_bytes(
        (other / ".lambdaver" / "cache" / "versions").read_bytes()
    )
    assert fn("versions", "list").stdout == good


def test_a_refused_listing_writes_no_cache(fn: Fn, unchanged) -> None:
    fn.publish()
    with unchanged(fn.root / ".lambdaver"):
        r = fn("versions", "list", "--function-name", "other")
        assert r.exit_code == 254


def test_status_compares_with_the_newest_version_left_after_a_deletion(fn: Fn) -> None:
    fn.publish(**{"app.py": "# 1\n"})
    fn.publish(**{"app.py": "# 2\n"})
    fn.publish(**{"app.py": "# 3\n"})
    assert fn.ok("status")["Version"] == "3"
    fn.write("app.py", "# 2\n")
    fn.ok("versions", "delete", "3")
    out = fn.ok("status")
    assert (out["Version"], out["Changed"]) == ("2", False)
    assert fn.publish() == "4"  # the newest (3) was deleted: a new number, as the brief says
