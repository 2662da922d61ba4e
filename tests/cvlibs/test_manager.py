import sys
import uuid

import pytest

from paddleseg_lite import registry
from paddleseg_lite.cvlibs import manager
from paddleseg_lite.cvlibs.manager import ComponentManager


def named_class(name, module="mod_a"):
    return type(name, (), {"__module__": module})


def test_register_and_lookup_as_decorator():
    reg = ComponentManager("things")

    @reg.add_component
    class Foo:
        pass

    assert reg["Foo"] is Foo and "Foo" in reg and "Bar" not in reg and len(reg) == 1
    assert reg.components_dict == {"Foo": Foo}


def test_functions_and_lists_register_and_are_returned_unchanged():
    reg = ComponentManager("things")

    def make_thing():
        return 1

    assert reg.add_component(make_thing) is make_thing
    a, b = named_class("A"), named_class("B")
    pair = [a, b]
    assert reg.add_component(pair) is pair
    assert reg.components_dict == {"make_thing": make_thing, "A": a, "B": b}
    assert repr(reg) == "things:['A', 'B', 'make_thing']"


def test_duplicate_name_is_refused_with_both_modules_named():
    reg = ComponentManager("things")
    first, second = named_class("Foo", "pkg.first"), named_class("Foo", "pkg.second")
    reg.add_component(first)
    reg.add_component(first)  # the same object again is not a conflict
    with pytest.raises(KeyError) as e:
        reg.add_component(second)
    assert e.value.args[0] == ("things 'Foo' is already registered by pkg.first; pkg.second.Foo registers the "
                               "same name. Rename one, or pass force=True to replace it.")
    assert reg["Foo"] is first


def test_force_replaces_for_single_decorator_and_list():
    reg = ComponentManager("things")
    reg.add_component([named_class("Foo"), named_class("Bar")])
    new_foo, new_bar = named_class("Foo", "b"), named_class("Bar", "b")
    reg.add_component(force=True)(new_foo)
    reg.add_component([new_bar], force=True)
    assert reg["Foo"] is new_foo and reg["Bar"] is new_bar
    with pytest.raises(KeyError, match="already registered"):
        reg.add_component([named_class("Bar", "c")])


def test_unknown_name_suggests_close_match_and_lists_registry():
    reg = ComponentManager("transforms")
    reg.add_component([named_class("RandomPaddingCrop"), named_class("Normalize")])
    with pytest.raises(KeyError) as e:
        reg["RandomPadingCrop"]
    assert e.value.args[0] == ("'RandomPadingCrop' is not in the transforms registry. Did you mean "
                               "RandomPaddingCrop? Registered: Normalize, RandomPaddingCrop")
    with pytest.raises(KeyError) as e:
        reg["Zzz"]
    assert e.value.args[0] == "'Zzz' is not in the transforms registry. Registered: Normalize, RandomPaddingCrop"


def test_unknown_name_suggests_at_most_three():
    reg = ComponentManager("losses")
    reg.add_component([named_class(n) for n in ("Loss1", "Loss2", "Loss3", "Loss4")])
    with pytest.raises(KeyError, match=r"Did you mean Loss4 or Loss3 or Loss2\? Registered: Loss1, Loss2, "):
        reg["Loss"]


def test_rejects_non_class_naming_its_type():
    with pytest.raises(TypeError) as e:
        ComponentManager("x").add_component(3)
    assert str(e.value) == "Expect class/function type, but received <class 'int'>"


def test_manager_is_the_registry_module_under_paddleseg_name():
    assert manager.find is registry.find and manager.ComponentManager is registry.ComponentManager
    assert manager.ALL is registry.ALL and manager.MODELS is registry.MODELS


@pytest.fixture
def two_registries(monkeypatch):
    models, losses = ComponentManager("models"), ComponentManager("losses")
    models.add_component([named_class("UNet"), named_class("Shared")])
    losses.add_component([named_class("DiceLoss"), named_class("Shared", "mod_b"), named_class("UNet3")])
    monkeypatch.setattr(registry, "ALL", (models, losses))
    return models, losses


def test_find_searches_registries_in_order(two_registries):
    models, losses = two_registries
    assert manager.find("DiceLoss") == (losses, losses["DiceLoss"])
    assert manager.find("Shared") == (models, models["Shared"])  # the first registry wins


def test_find_unknown_suggests_across_registries(two_registries):
    with pytest.raises(KeyError) as e:
        manager.find("UNett")
    assert e.value.args[0] == ("Unknown type 'UNett'. Did you mean UNet or UNet3? "
                               "Run `python tools/list_components.py` to see all.")
    with pytest.raises(KeyError) as e:
        manager.find("Zzz")
    assert e.value.args[0] == "Unknown type 'Zzz'. Run `python tools/list_components.py` to see all."


def test_find_suggests_at_most_three(monkeypatch):
    reg = ComponentManager("models")
    reg.add_component([named_class(n) for n in ("Net1", "Net2", "Net3", "Net4")])
    monkeypatch.setattr(registry, "ALL", (reg,))
    with pytest.raises(KeyError, match=r"Did you mean Net4 or Net3 or Net2\? Run"):
        manager.find("Net")


def test_a_registry_imports_its_locations_on_the_first_lookup(tmp_path, monkeypatch):
    name = "lazy_components_" + uuid.uuid4().hex[:8]  # a module no earlier run has imported
    (tmp_path / (name + ".py")).write_text(
        "from paddleseg_lite import registry\n\n\n@registry.LAZY.add_component\nclass Lazy:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    lazy = registry.ComponentManager("lazy", locations=[name])
    monkeypatch.setattr(registry, "LAZY", lazy, raising=False)
    try:
        assert lazy.locations == [name] and name not in sys.modules
        assert lazy["Lazy"].__name__ == "Lazy" and lazy.locations == []
        assert "Lazy" in lazy and len(lazy) == 1 and list(lazy.components_dict) == ["Lazy"]
    finally:
        sys.modules.pop(name, None)
