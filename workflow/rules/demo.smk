# The demo cohorts (GSE3143, GSE4335, GSE1992) from the installed survset package.


rule demo_data:
    output:
        sheet="resources/demo/cohorts.tsv",
        dropped=report(
            "resources/demo/dropped_samples.tsv",
            caption="../report/demo_dropped.rst",
            category="0. Data",
        ),
        expression=DEMO_EXPRESSION_FILES,
        clinical=DEMO_CLINICAL_FILES,
    log:
        "logs/demo_data/all.log",
    conda:
        "../../envs/demo.yaml"
    resources:
        **res("low"),
    script:
        "../../scripts/demo_data.py"
