"""The setup areas' list screens, by area key (`g` + letter, the palette)."""

from hostdesk.tui.screens.catalog_setup import (
    AddonListScreen,
    PaymentMethodListScreen,
    PromotionListScreen,
    TldListScreen,
)
from hostdesk.tui.screens.client_setup import ClientGroupListScreen
from hostdesk.tui.screens.template_setup import TemplateListScreen

SETUP_LISTS = {
    "client_groups": ClientGroupListScreen,
    "addons": AddonListScreen,
    "promotions": PromotionListScreen,
    "tlds": TldListScreen,
    "payment_methods": PaymentMethodListScreen,
    "templates": TemplateListScreen,
}
