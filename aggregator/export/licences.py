"""Whom to credit for each source's data, and under which terms: printed in every workbook's
README sheet and in datapackage.json."""

from __future__ import annotations

from dataclasses import dataclass

CC_BY_4 = "https://creativecommons.org/licenses/by/4.0/"


@dataclass(frozen=True)
class Licence:
    publisher: str
    terms: str  # the licence or terms of use, as the publisher names them
    attribution: str  # the credit line to print beside the figures
    url: str = ""  # where the data and its terms are published
    licence_url: str = ""  # the licence text, when it is a standard licence of known version


LICENCES: dict[str, Licence] = {
    "ipc_api": Licence(
        "IPC (Integrated Food Security Phase Classification), IPC API",
        "IPC terms of use",
        'Source: IPC. Credit "IPC" wherever the figures are shown.',
        "https://www.ipcinfo.org",
    ),
    "ipc_hdx": Licence(
        "IPC, published on HDX (global-acute-food-insecurity-country-data)",
        "IPC terms of use",
        'Source: IPC. Credit "IPC" wherever the figures are shown.',
        "https://data.humdata.org/dataset/global-acute-food-insecurity-country-data",
    ),
    "hapi": Licence(
        "OCHA Centre for Humanitarian Data, HDX HAPI",
        "CC BY",
        "Source: HDX HAPI (OCHA), from the HDX resources named in each row.",
        "https://hapi.humdata.org",
    ),
    "fts": Licence(
        "OCHA Financial Tracking Service (FTS)",
        "CC BY",
        "Source: OCHA Financial Tracking Service.",
        "https://fts.unocha.org",
    ),
    "unrwa_trucks": Licence(
        "UNRWA, published on HDX (state-of-palestine-gaza-aid-truck-data)",
        "CC BY",
        "Source: UNRWA, via HDX.",
        "https://data.humdata.org/dataset/state-of-palestine-gaza-aid-truck-data",
    ),
    "casualties": Licence(
        "Gaza Ministry of Health figures, compiled by Tech for Palestine",
        "CC BY 4.0",
        "Source: Gaza Ministry of Health, via Tech for Palestine.",
        "https://data.techforpalestine.org",
        CC_BY_4,
    ),
    "reference": Licence(
        "The publishers of the reports quoted (each row's publisher and url)",
        "Each document's own terms",
        "Source: the publisher and document named in each row.",
    ),
    "claims": Licence(
        "The outlets of the articles quoted (each row's outlet and url)",
        "Quoted for checking; the articles' rights stay with their publishers",
        "Source: the outlet and article named in each row.",
    ),
}
