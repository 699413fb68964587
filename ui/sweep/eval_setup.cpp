// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/sweep/eval_setup.h"
#include <algorithm>

#include <QBoxLayout>
#include <QComboBox>
#include <QEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QScrollArea>
#include <QSpinBox>

#include "ui/chat/chat_models.h"
#include "ui/jobs/job.h"  // before chat_models.h, whose QPointer<Job> needs the complete type

namespace qsui {

EvalSetup::EvalSetup(ChatModels* models, bool weightError, QWidget* parent)
    : QObject(parent), m_models(models), m_parent(parent) {
    m_measure = new QComboBox;
    if (weightError) m_measure->addItem(tr("weight error (RMSE)"), int(qs::SweepMeasure::WeightError));
    m_measure->addItem(tr("perplexity"), int(qs::SweepMeasure::Ppl));
    m_measure->addItem(tr("KL divergence"), int(qs::SweepMeasure::Kld));
    connect(m_measure, &QComboBox::currentIndexChanged, this, [this] {
        updateControls();
        Q_EMIT measureChanged();
    });
    m_textRow = new QWidget;
    auto* textRow = new QHBoxLayout(m_textRow);
    textRow->setContentsMargins(0, 0, 0, 0);
    m_textLabel = new QLabel(tr("(none)"));
    m_textLabel->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);  // a long name must not widen
    m_textLabel->setMinimumWidth(40);                                          // the setup column
    auto* choose = new QPushButton(tr("Choose…"));
    connect(choose, &QPushButton::clicked, this, &EvalSetup::chooseText);
    textRow->addWidget(m_textLabel, 1);
    textRow->addWidget(choose);
    m_protocol = new QComboBox;
    for (qs::PplProtocol p : {qs::PplProtocol::LlamaCpp, qs::PplProtocol::Gptq, qs::PplProtocol::Documents})
        m_protocol->addItem(QString::fromStdString(std::string(qs::pplProtocolName(p))), int(p));
    m_protocol->setToolTip(tr("how the text is cut into windows, as `quantscope-cli ppl --protocol`"));
    m_context = new QSpinBox;
    m_context->setRange(2, 1 << 20);
    m_context->setValue(512);
    m_windows = new QSpinBox;
    m_windows->setRange(0, 1 << 20);
    m_windows->setValue(4);
    m_windows->setSpecialValueText(tr("all"));
    updateControls();
}

void EvalSetup::addRows(QFormLayout* form) {
    form->addRow(tr("Measure"), m_measure);
    form->addRow(tr("Text"), m_textRow);
    form->addRow(tr("Protocol"), m_protocol);
    form->addRow(tr("Context"), m_context);
    form->addRow(tr("Windows"), m_windows);
}

void EvalSetup::setMeasure(qs::SweepMeasure measure) {
    const int i = m_measure->findData(int(measure));
    if (i >= 0) m_measure->setCurrentIndex(i);
}

qs::SweepMeasure EvalSetup::measure() const {
    return qs::SweepMeasure(m_measure->currentData().toInt());
}

void EvalSetup::setTextPath(const QString& path) {
    m_textPath = path;
    m_textLabel->setText(path.isEmpty() ? tr("(none)") : QFileInfo(path).fileName());
    m_textLabel->setToolTip(path);
}

void EvalSetup::setProtocol(qs::PplProtocol protocol) {
    m_protocol->setCurrentIndex(m_protocol->findData(int(protocol)));
}
void EvalSetup::setContext(int tokens) {
    m_context->setValue(tokens);
}
void EvalSetup::setMaxWindows(int windows) {
    m_windows->setValue(windows);
}

qs::PerplexityOptions EvalSetup::perplexity() const {
    qs::PerplexityOptions o;
    o.protocol = qs::PplProtocol(m_protocol->currentData().toInt());
    o.context = m_context->value();
    o.maxWindows = m_windows->value();
    return o;
}

void EvalSetup::chooseText() {
    const QString path = QFileDialog::getOpenFileName(m_parent, tr("Evaluation text"), m_textPath,
                                                      tr("Text files (*.txt *.raw);;All files (*)"));
    if (!path.isEmpty()) setTextPath(path);
}

void EvalSetup::updateControls() {
    const bool on = evaluates();
    m_protocol->setEnabled(on);
    m_context->setEnabled(on);
    m_windows->setEnabled(on);
    m_textLabel->setEnabled(on);
}

void EvalSetup::prepare(QObject* context, Ready done) {
    const quint64 generation = ++m_generation;
    if (!evaluates()) return done({}, {});
    if (m_textPath.isEmpty()) return done(tr("Perplexity and KLD need a text: choose one first."), {});
    if (!m_models) return done(tr("Perplexity and KLD are not available here."), {});
    switch (m_models->availability()) {
        case ChatModels::Availability::NoModel:
            return done(tr("Open a model first."), {});
        case ChatModels::Availability::Unavailable:
            return done(m_models->unavailableReason().replace(tr("cannot chat"), tr("cannot be evaluated")),
                        {});
        case ChatModels::Availability::Checking: {
            // Continue once the tokenizer check has finished (the user clicked Run; no second click needed).
            QPointer<EvalSetup> self(this);
            QPointer<QObject> guard(context);
            connect(
                m_models, &ChatModels::availabilityChanged, this,
                [self, guard, generation, done] {
                    if (!self || !guard || self->m_generation != generation) return;
                    self->prepare(guard, done);
                },
                Qt::SingleShotConnection);
            return;
        }
        case ChatModels::Availability::Ready:
            break;
    }
    QPointer<EvalSetup> self(this);
    QPointer<QObject> guard(context);
    m_models->requestOriginal([self, guard, generation, done](const QString& error) {
        if (!self || !guard || self->m_generation != generation) return;
        if (!error.isEmpty()) return done(tr("Loading the model failed: %1").arg(error), {});
        done({}, EvalModels{self->m_models->tokenizer(), self->m_models->original()});
    });
}

namespace {
// Switches a view's box layout between setup | results and setup over results on the view's resizes.
class SetupLayout final : public QObject {
public:
    SetupLayout(QWidget* view, QScrollArea* setup, QWidget* results)
        : QObject(view), m_view(view), m_setup(setup), m_layout(new QBoxLayout(QBoxLayout::LeftToRight, view)) {
        m_setupWidth = setup->widget()->sizeHint().width() + 16;
        m_layout->addWidget(setup);
        m_layout->addWidget(results, 1);
        view->installEventFilter(this);
        apply(false);
    }

protected:
    bool eventFilter(QObject* watched, QEvent* event) override {
        if (watched == m_view && event->type() == QEvent::Resize) {
            // Hysteresis, so that the size hints changing with the arrangement cannot make it flip back and forth.
            const int width = m_view->width(), wanted = m_setupWidth + kMinResultsWidth;
            if (!m_stacked && width < wanted) apply(true);
            else if (m_stacked && width > wanted + 40) apply(false);
            if (m_stacked) m_setup->setMaximumHeight(std::max(120, m_view->height() / 3));
        }
        return false;
    }

private:
    static constexpr int kMinResultsWidth = 300;  // a readable plot beside the form

    void apply(bool stacked) {
        m_stacked = stacked;
        m_layout->setDirection(stacked ? QBoxLayout::TopToBottom : QBoxLayout::LeftToRight);
        if (stacked) {
            m_setup->setMinimumWidth(0);
            m_setup->setMaximumWidth(QWIDGETSIZE_MAX);
            m_setup->setHorizontalScrollBarPolicy(Qt::ScrollBarAsNeeded);
            m_setup->setMaximumHeight(std::max(120, m_view->height() / 3));
        } else {
            m_setup->setFixedWidth(m_setupWidth);
            m_setup->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
            m_setup->setMaximumHeight(QWIDGETSIZE_MAX);
        }
    }

    QWidget* m_view;
    QScrollArea* m_setup;
    QBoxLayout* m_layout;
    int m_setupWidth = 0;
    bool m_stacked = false;
};
}  // namespace

void layOutSetupAndResults(QWidget* view, QWidget* setup, QWidget* results) {
    auto* area = new QScrollArea;
    area->setObjectName(QStringLiteral("setupArea"));
    area->setWidget(setup);
    area->setWidgetResizable(true);
    area->setFrameShape(QFrame::NoFrame);
    new SetupLayout(view, area, results);
}

}  // namespace qsui
