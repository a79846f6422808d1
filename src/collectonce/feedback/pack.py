"""A provider's feedback pack: its own data given back with Making Data Count SPC, assurance
against targets, its position among its peers, why each figure is collected and who uses it.

One job per module:

* `collectonce.feedback.model`: the pack and its parts (`Pack`, `MetricPanel`, `PeerPosition`,
  `MetricUse`);
* `collectonce.feedback.assembly`: building a pack from a frame shaped like the unified table
  (`build_pack`, `peer_positions`);
* `collectonce.feedback.spc.series`: series ready for SPC, and SPC for many at once
  (`prepare_series`, `run_spc`);
* `collectonce.feedback.render`: the HTML page (`render_pack_html`);
* `collectonce.feedback.exports`: the workbook, the CSV and the pack's files
  (`write_pack_xlsx`, `write_pack_csv`, `write_pack`);
* `collectonce.feedback.sources`: the latest publication and the receipts
  (`load_publication`, `load_receipts`);
* `collectonce.feedback.rebuild`: which packs to rebuild, and rebuilding them
  (`build_all_packs`, `providers_needing_packs`, `build_provider_pack`, `build_pack_html`).

This module names them all in one place, as it always has.
"""

from __future__ import annotations

from collectonce.display import format_value as format_value
from collectonce.feedback.assembly import RECEIPTS_SHOWN as RECEIPTS_SHOWN
from collectonce.feedback.assembly import TRIAL_LIMIT_POINTS as TRIAL_LIMIT_POINTS
from collectonce.feedback.assembly import assemble_pack as assemble_pack
from collectonce.feedback.assembly import build_pack as build_pack
from collectonce.feedback.assembly import build_panels as build_panels
from collectonce.feedback.assembly import metric_uses as metric_uses
from collectonce.feedback.assembly import peer_codes as peer_codes
from collectonce.feedback.assembly import peer_positions as peer_positions
from collectonce.feedback.assembly import provider_of as provider_of
from collectonce.feedback.assembly import receipt_dicts as receipt_dicts
from collectonce.feedback.assembly import summarise_receipt as summarise_receipt
from collectonce.feedback.errors import NoPublication as NoPublication
from collectonce.feedback.errors import PackError as PackError
from collectonce.feedback.errors import UnknownMetric as UnknownMetric
from collectonce.feedback.errors import UnknownProvider as UnknownProvider
from collectonce.feedback.exports import CSV_DECIMALS as CSV_DECIMALS
from collectonce.feedback.exports import DATA_NUMBERS as DATA_NUMBERS
from collectonce.feedback.exports import NUMBER_FORMATS as NUMBER_FORMATS
from collectonce.feedback.exports import SUMMARY_NUMBERS as SUMMARY_NUMBERS
from collectonce.feedback.exports import neutralise_frame as neutralise_frame
from collectonce.feedback.exports import neutralise_text as neutralise_text
from collectonce.feedback.exports import number_kind as number_kind
from collectonce.feedback.exports import pack_paths as pack_paths
from collectonce.feedback.exports import replace_bytes as replace_bytes
from collectonce.feedback.exports import write_pack as write_pack
from collectonce.feedback.exports import write_pack_csv as write_pack_csv
from collectonce.feedback.exports import write_pack_xlsx as write_pack_xlsx
from collectonce.feedback.model import DATA_COLUMNS as DATA_COLUMNS
from collectonce.feedback.model import MetricPanel as MetricPanel
from collectonce.feedback.model import MetricUse as MetricUse
from collectonce.feedback.model import Pack as Pack
from collectonce.feedback.model import PeerPosition as PeerPosition
from collectonce.feedback.rebuild import PACK_FORMAT as PACK_FORMAT
from collectonce.feedback.rebuild import build_all_packs as build_all_packs
from collectonce.feedback.rebuild import build_pack_html as build_pack_html
from collectonce.feedback.rebuild import build_provider_pack as build_provider_pack
from collectonce.feedback.rebuild import content_hashes as content_hashes
from collectonce.feedback.rebuild import providers_needing_packs as providers_needing_packs
from collectonce.feedback.rebuild import read_index as read_index
from collectonce.feedback.render import RECENT_POINTS as RECENT_POINTS
from collectonce.feedback.render import TEMPLATES as TEMPLATES
from collectonce.feedback.render import WEB_TEMPLATES as WEB_TEMPLATES
from collectonce.feedback.render import chart_markup as chart_markup
from collectonce.feedback.render import render_pack_html as render_pack_html
from collectonce.feedback.render import render_template as render_template
from collectonce.feedback.render import stylesheet as stylesheet
from collectonce.feedback.render import tag_class as tag_class
from collectonce.feedback.sources import load_publication as load_publication
from collectonce.feedback.sources import load_receipts as load_receipts
from collectonce.feedback.spc.series import SERIES_COLS as SERIES_COLS
from collectonce.feedback.spc.series import STATUS_FLAG as STATUS_FLAG
from collectonce.feedback.spc.series import prepare_series as prepare_series
from collectonce.feedback.spc.series import run_spc as run_spc
from collectonce.feedback.wording import ASSURANCE_SHORT as ASSURANCE_SHORT
from collectonce.feedback.wording import ASSURANCE_TEXT as ASSURANCE_TEXT
from collectonce.feedback.wording import DIRECTION_TEXT as DIRECTION_TEXT
from collectonce.feedback.wording import LATE_TEXT as LATE_TEXT
from collectonce.feedback.wording import POINT_TYPE_TEXT as POINT_TYPE_TEXT
from collectonce.feedback.wording import RULE_TEXT as RULE_TEXT
from collectonce.feedback.wording import VARIATION_SHORT as VARIATION_SHORT
from collectonce.feedback.wording import VARIATION_TEXT as VARIATION_TEXT
from collectonce.feedback.wording import domain_label as domain_label
from collectonce.feedback.wording import format_period as format_period
from collectonce.feedback.wording import format_when as format_when
from collectonce.feedback.wording import ordinal as ordinal
from collectonce.feedback.wording import target_text as target_text
from collectonce.feedback.wording import use_text as use_text

#: The names other code used before the pack was split, kept so their imports still work.
_atomic_write_bytes = replace_bytes
_chart = chart_markup
_panels = build_panels
_provider = provider_of
_peer_codes = peer_codes
_receipt_dicts = receipt_dicts
