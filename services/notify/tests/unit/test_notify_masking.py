from backbone.masking import mask_email, mask_phone, mask_pii


def test_masking() -> None:
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("+86 138 1234 5678") == "138****5678"
    assert mask_email("zhang.wei@example.com") == "z***@example.com"
    assert mask_pii("to 13812345678 and li.na@example.com") == "to 138****5678 and l***@example.com"
