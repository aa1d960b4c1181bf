// dude/dude.hpp: everything an embedding program needs, in one include, and how to use it.
//
// Build: find_package(dude CONFIG REQUIRED) and target_link_libraries(app PRIVATE dude::dude)
// (C++20). dude::dude is a static library; its config pulls in Threads, oneTBB, zlib,
// Highway and xxHash. The library never prints and never exits: every failure is a dude::Error
// (errors.hpp) thrown to the caller:
//   DataError       malformed or unreadable input; names the file and the line or byte offset
//   ConfigError     a bad setting or a data set that does not fit; names the field
//   ModelFileError  a model file that is corrupt, truncated or of another version
//
// 1. Data (dataset.hpp, io.hpp). A Dataset is an immutable view of labelled rows, dense
//    (row-major float32) or sparse (CSR). Get one from a file or over memory you own:
//
//      dude::Dataset train = dude::load_dataset("train.svm");  // LIBSVM, CSV, IDX, fastText
//      dude::Dataset mine  = dude::Dataset::dense_view(x.data(), y.data(), rows, features,
//                                                      classes);  // no copy: keep x, y alive
//
//    sparse_view does the same for CSR arrays. Labels are class ids in [0, classes); to
//    predict unlabelled rows pass any valid labels (e.g. zeros). load_builtin_dataset("digits")
//    gives the UCI digits (1,797 x 64, 10 classes) without any file.
//
// 2. Model and objective (objective.hpp). A ModelSpec names the architecture ("logreg",
//    "softmax", "mlp:128,64"); an Objective binds it to the data's dimensions and computes
//    losses, gradients and predictions on a flat parameter array:
//
//      dude::Objective objective(dude::ModelSpec::parse("softmax"), train.features(),
//                                train.classes());
//      std::vector<float> params(objective.num_params());
//      objective.init_params(params.data(), /*seed=*/1);
//
// 3. Configuration (async.hpp, trainer.hpp, partition.hpp). AsyncConfig is plain data;
//    validate() checks it up front and throws a ConfigError naming the first bad field
//    ("workers: must be in [1, 4096]"). train_async validates again before starting a thread.
//
//      dude::AsyncConfig config;
//      config.algorithm = dude::AlgorithmSpec::parse("dude");   // or asgd, hogwild, sync,
//      fedbuff:K config.workers = 4; config.partition = dude::PartitionSpec::parse("iid");    // or
//      label:K, dirichlet:ALPHA config.sgd.epochs = 10;                                  // or
//      steps, or seconds config.sgd.lr = 0.2f; config.validate();
//
// 4. Training. train_async runs `workers` threads plus a server thread and returns when the
//    budget is spent or *stop becomes true (set it from any thread; the run ends promptly and
//    params hold a usable model). The progress callback and test-set evaluations run on the
//    calling thread; an exception thrown by the callback or inside any worker or the server
//    stops every thread and is rethrown from train_async after all threads are joined.
//
//      std::atomic<bool> stop{false};
//      const std::vector<std::uint32_t> train_rows = dude::all_rows(train.rows());
//      dude::Progress last = dude::train_async(
//          objective, {&train, train_rows}, /*test=*/nullptr, config, params.data(),
//          [](const dude::Progress& p) { /* p.epoch, p.train_loss, p.fraction_done ... */ },
//          &stop);
//
//    train_sgd (trainer.hpp) is the single-thread reference with the same shape.
//
// 5. Saving, loading, predicting (model.hpp, predictor.hpp).
//
//      dude::Model model{objective.spec(), objective.features(), objective.classes(),
//                        objective.l2(), params};
//      dude::save_model("digits.model", model);     // atomic: temporary file, then rename
//      dude::Predictor predictor = dude::Predictor::load("digits.model");
//      std::vector<std::uint32_t> labels = predictor.predict(mine);         // one per row
//      std::vector<float> proba = predictor.predict_proba(mine);           // rows x classes
//      double accuracy = predictor.accuracy(mine);
//
// 6. Comparing algorithms (compare.hpp). run_comparison trains every algorithm x learning rate
//    x seed of a CompareGrid from one AsyncConfig on the same rows, partitions and initial
//    parameters, and returns per-rate statistics over the seeds and each algorithm's best rate;
//    a diverged run is recorded, not thrown. RunCallbacks show each run as it goes (the place
//    to write its points); the comparison itself writes nothing.
//
// Thread safety:
//   Dataset     immutable; every member is const and thread-safe; copies share the arrays.
//               A view is valid while the caller's memory is alive and unchanged.
//   Objective   const members are thread-safe; the scratch memory of loss_grad/score/predict
//               is a Workspace, one per thread (Objective::make_workspace).
//   Model       plain data: share it read-only, or guard it like any struct.
//   Predictor   owns a copy of its Model; every member is const and thread-safe (each
//               predict call uses its own Workspace); share one among all your threads.
//   train_async one call per AsyncConfig and parameter array at a time; it starts and joins
//               its own threads; callbacks run on the calling thread, never concurrently.
//   evaluate, accuracy()  parallel over oneTBB's pool; safe to call from several threads.
//   kernels::force_target is the one call that is not thread-safe (tests and benchmarks).
#pragma once

#include "dude/async.hpp"
#include "dude/compare.hpp"
#include "dude/dataset.hpp"
#include "dude/errors.hpp"
#include "dude/io.hpp"
#include "dude/kernels.hpp"
#include "dude/model.hpp"
#include "dude/objective.hpp"
#include "dude/partition.hpp"
#include "dude/predictor.hpp"
#include "dude/trainer.hpp"
