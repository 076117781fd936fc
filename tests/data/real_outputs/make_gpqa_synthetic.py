"""Writes gpqa_synthetic.csv: 40 synthetic multiple-choice questions in GPQA's CSV layout (the columns
evalkit reads), for real model text with letter answers. No GPQA text: the questions are elementary
arithmetic and science facts written for this corpus. Run from the repository root."""

import csv
import random
from pathlib import Path

FACTS = [
    ("Which gas do green plants take in for photosynthesis?", "Carbon dioxide", ["Oxygen", "Nitrogen", "Helium"]),
    ("What is the chemical symbol of sodium?", "Na", ["So", "Sd", "N"]),
    ("Which planet is closest to the Sun?", "Mercury", ["Venus", "Mars", "Jupiter"]),
    ("What is the SI unit of force?", "Newton", ["Joule", "Watt", "Pascal"]),
    ("Which particle carries a negative electric charge?", "Electron", ["Proton", "Neutron", "Photon"]),
    ("What is the boiling point of water at sea level in Celsius?", "100", ["90", "80", "120"]),
    ("Which organ pumps blood through the human body?", "Heart", ["Liver", "Lung", "Kidney"]),
    ("What is the most abundant gas in Earth's atmosphere?", "Nitrogen", ["Oxygen", "Argon", "Carbon dioxide"]),
    ("Which of these is a noble gas?", "Neon", ["Chlorine", "Sodium", "Iron"]),
    ("What is the pH of pure water at 25 degrees Celsius?", "7", ["1", "10", "14"]),
    ("Which force keeps planets in orbit around the Sun?", "Gravity", ["Friction", "Magnetism", "Tension"]),
    ("What is the derivative of x^2 with respect to x?", "2x", ["x", "x^2", "2"]),
    ("How many chromosomes does a typical human somatic cell have?", "46", ["23", "44", "48"]),
    ("Which element has atomic number 1?", "Hydrogen", ["Helium", "Lithium", "Carbon"]),
    ("What is the speed of light in vacuum, approximately, in km/s?", "300000", ["30000", "3000", "3000000"]),
    ("Which molecule stores genetic information in most organisms?", "DNA", ["ATP", "Glucose", "Cellulose"]),
    (
        "What kind of bond holds the two hydrogen atoms of H2 together?",
        "Covalent",
        ["Ionic", "Metallic", "Hydrogen bond"],
    ),
    ("What is the integral of 1/x dx?", "ln|x| + C", ["x + C", "1/x^2 + C", "e^x + C"]),
    (
        "Which scientist proposed the three laws of motion?",
        "Isaac Newton",
        ["Albert Einstein", "Niels Bohr", "Galileo Galilei"],
    ),
    ("What is the charge of an alpha particle in units of e?", "+2", ["+1", "-1", "0"]),
]


def arithmetic(rng: random.Random, i: int) -> tuple[str, str, list[str]]:
    a, b = rng.randint(12, 99), rng.randint(3, 19)
    right = a * b
    wrong = sorted({right + d for d in (-b, b, 10, -10, 1)} - {right})[:3]
    return (
        f"A crate holds {b} boxes of {a} bolts each. How many bolts are in the crate? (item {i})",
        str(right),
        [str(w) for w in wrong],
    )


def main() -> None:
    rng = random.Random(20261201)
    rows = list(FACTS) + [arithmetic(rng, i) for i in range(20)]
    header = ["Question", "Correct Answer", "Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3",
              "Record ID", "High-level domain", "Canary String"]
    out = Path(__file__).with_name("gpqa_synthetic.csv")
    with open(out, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        for i, (q, right, wrong) in enumerate(rows):
            w.writerow([q, right, *wrong, f"synth{i:03d}", "Synthetic", "synthetic corpus: no GPQA text"])
    print(f"wrote {out} ({len(rows)} rows)")


if __name__ == "__main__":
    main()
