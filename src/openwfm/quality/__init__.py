"""Quality and customer experience: evaluation forms and scoring, surveys, first-contact
resolution from repeat contacts, agent quality, and quality-based routing.

``load_form`` / ``score_evaluation`` score with the Genesys, Zendesk QA or Amazon Connect rules;
``QualityStore`` keeps evaluations, surveys and customer keys beside the interactions;
``repeat_flags`` / ``fcr_rates`` measure FCR; ``agent_quality`` shrinks per-agent scores toward
the team mean; ``derive_proficiency`` / ``write_proficiency`` turn them into routing skills;
``compare_routing`` simulates longest-idle vs quality-based routing of a segment.
"""

from openwfm._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "forms": ["EvaluationForm", "load_form", "parse_form"],
        "scoring": ["score_evaluation", "internal_quality_score", "EvaluationScore"],
        "store": ["QualityStore"],
        "imports": [
            "import_evaluations",
            "import_surveys",
            "import_customers",
            "anonymous_bank_customers",
        ],
        "fcr": ["repeat_flags", "fcr_rates"],
        "agents": ["agent_quality", "beta_binomial_shrink", "normal_shrink"],
        "sampling": ["stratified_sample"],
        "calibration": ["calibration_spread"],
        "proficiency": ["derive_proficiency", "write_proficiency", "handle_times"],
        "routing": ["compare_routing"],
        "report": ["build_quality_report"],
    },
)
