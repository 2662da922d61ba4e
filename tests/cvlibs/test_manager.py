import pytest

from paddleseg_lite.cvlibs.manager import ComponentManager


def test_register_and_lookup_as_decorator():
    reg = ComponentManager("things")

    @reg.add_component
    class Foo:
        pass

    assert reg["Foo"] is Foo and "Foo" in reg and len(reg) == 1


def test_duplicate_name_raises_naming_both_modules_unless_forced():
    reg = ComponentManager("things")

    def make():
        class Foo:
            pass
        return Foo

    first, second = make(), make()
    reg.add_component(first)
    with pytest.raises(KeyError, match="already registered by .*test_manager.*test_manager"):
        reg.add_component(second)
    reg.add_component(force=True)(second)
    assert reg["Foo"] is second


def test_unknown_name_suggests_close_match_and_lists_registry():
    reg = ComponentManager("transforms")

    class RandomPaddingCrop:
        pass

    class Normalize:
        pass

    reg.add_component([RandomPaddingCrop, Normalize])
    with pytest.raises(KeyError) as e:
        reg["RandomPadingCrop"]
    assert "Did you mean RandomPaddingCrop?" in str(e.value)
    assert "Normalize" in str(e.value)


def test_rejects_non_class():
    with pytest.raises(TypeError):
        ComponentManager("x").add_component(3)
