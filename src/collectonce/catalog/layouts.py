"""The names of the built-in file layouts that are mapped through the catalogue.

A receipt and its lineage carry the layout's name; reports show its title.
"""

from __future__ import annotations

#: NHS England's A&E statistics layout, one row per department type.
AE_BY_TYPE = "nhse_ae_by_department_type"
AE_BY_TYPE_TITLE = "NHS England A&E statistics layout (one row per department type)"

#: NHS England's published monthly A&E file, one row per organisation.
AE_PUBLISHED = "nhse_ae_published_monthly"
AE_PUBLISHED_TITLE = "NHS England's published monthly A&E file (one row per organisation)"

#: Each built-in layout's title, by name.
LAYOUT_TITLES: dict[str, str] = {
    AE_BY_TYPE: AE_BY_TYPE_TITLE,
    AE_PUBLISHED: AE_PUBLISHED_TITLE,
}
